#include "agent/exec_client.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "base/log.h"

namespace vmcat {

ExecClient::ExecClient(Loop* loop, std::unique_ptr<FrameLink> link, ExecRequest request,
                       bool forward_stdin, std::string what)
    : loop_(loop),
      link_(std::move(link)),
      request_(std::move(request)),
      forward_stdin_(forward_stdin),
      what_(std::move(what)) {}

ExecClient::~ExecClient() {
  if (stdin_watching_) loop_->Remove(STDIN_FILENO);
}

int ExecClient::Run() {
  if (request_.tty && isatty(STDIN_FILENO)) {
    TermiosSettings raw;
    raw.rawer = true;
    auto guard = TerminalGuard::Apply(STDIN_FILENO, raw);
    if (guard.ok()) terminal_ = std::move(guard).value();
    winsize ws{};
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
      request_.rows = ws.ws_row;
      request_.cols = ws.ws_col;
    }
  }
  request_.stdin_open = forward_stdin_;
  link_->on_frame = [this](Frame f) { OnFrame(std::move(f)); };
  link_->on_closed = [this](Status s) {
    if (finished_) return;
    LogError(what_ + ": lost the connection to the agent (" + s.message() + ")");
    Finish(255);
  };
  Status s = link_->Start();
  if (!s.ok()) {
    LogError(what_ + ": " + s.message());
    return 255;
  }
  // Signals go to the program, as if it ran here.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    (void)loop_->WatchSignal(sig, [this](int signo) {
      if (finished_) return;
      // A second signal within a moment, or one before the program even
      // started, means "give up": do not wait for an agent that may hang.
      auto now = Clock::now();
      if (!started_ || (last_signal_ == signo && now - last_signal_time_ < kGiveUpWindow)) {
        LogError(what_ + ": interrupted");
        return Finish(128 + signo);
      }
      last_signal_ = signo;
      last_signal_time_ = now;
      link_->SendJson(MessageType::kSignal, kSession, {{"signal", signo}});
    });
  }
  if (request_.tty) {
    (void)loop_->WatchSignal(SIGWINCH, [this](int) { SendResize(); });
  }
  link_->SendJson(MessageType::kExec, kSession, request_.ToJson());
  if (forward_stdin_) {
    stdin_flags_ = FlagsGuard(STDIN_FILENO);
    (void)SetNonBlocking(STDIN_FILENO, true);
    stdin_open_ = true;
    UpdateStdinWatch();
  }
  (void)loop_->Run();
  terminal_.reset();
  return exit_code_;
}

void ExecClient::SendResize() {
  winsize ws{};
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
    link_->SendJson(MessageType::kResize, kSession, {{"rows", ws.ws_row}, {"cols", ws.ws_col}});
  }
}

void ExecClient::UpdateStdinWatch() {
  bool want = stdin_open_ && send_window_ > 0 && !finished_;
  if (want == stdin_watching_) return;
  if (want) {
    Status s = loop_->Add(STDIN_FILENO, EPOLLIN, this);
    if (!s.ok()) {
      // A regular file or /dev/null cannot be polled: it is always readable.
      stdin_watching_ = false;
      loop_->Post([this] { ReadStdin(); });
      return;
    }
  } else {
    loop_->Remove(STDIN_FILENO);
  }
  stdin_watching_ = want;
}

void ExecClient::OnIo(int fd, uint32_t events) {
  ReadStdin();
}

void ExecClient::ReadStdin() {
  char buf[kMaxDataChunk];
  int rounds = 0;
  while (stdin_open_ && send_window_ > 0 && !finished_ && rounds++ < 16) {
    size_t want = std::min<size_t>(sizeof buf, send_window_);
    ssize_t n = read(STDIN_FILENO, buf, want);
    if (n > 0) {
      link_->SendFrame(MessageType::kStdin, kSession,
                       std::string_view(buf, static_cast<size_t>(n)));
      send_window_ -= static_cast<uint32_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    // EOF (or an error reading our own stdin): the program's stdin ends.
    stdin_open_ = false;
    link_->SendFrame(MessageType::kStdinEof, kSession, "");
  }
  UpdateStdinWatch();
  if (stdin_open_ && send_window_ > 0 && !stdin_watching_ && !finished_) {
    loop_->Post([this] { ReadStdin(); });  // unpollable stdin: keep going
  }
}

void ExecClient::WriteOutput(int fd, const std::string& data) {
  Status s = WriteAll(fd, data.data(), data.size());
  if (!s.ok() && s.sys_errno() == EPIPE) {
    // Nobody reads our output any more: stop the program, as a pipe would.
    link_->SendJson(MessageType::kSignal, kSession, {{"signal", SIGPIPE}});
  }
  // Credit back what we have passed on, so the agent may send more.
  unsent_credit_ += static_cast<uint32_t>(data.size());
  if (unsent_credit_ >= kCreditBatch) {
    link_->Send(EncodeWindowFrame(kSession, unsent_credit_));
    unsent_credit_ = 0;
  }
}

void ExecClient::OnFrame(Frame f) {
  if (f.session != kSession && f.type != MessageType::kHello) return;
  switch (f.type) {
    case MessageType::kStarted:
      started_ = true;
      break;
    case MessageType::kStdout:
      WriteOutput(STDOUT_FILENO, f.payload);
      break;
    case MessageType::kStderr:
      WriteOutput(STDERR_FILENO, f.payload);
      break;
    case MessageType::kWindow: {
      auto credit = DecodeWindowPayload(f.payload);
      if (credit.ok()) send_window_ += *credit;
      if (stdin_open_) ReadStdin();
      break;
    }
    case MessageType::kExit: {
      auto j = f.JsonPayload();
      int code = 0;
      if (j.ok() && j->contains("signal")) {
        code = 128 + j->value("signal", 0);
      } else if (j.ok()) {
        code = j->value("code", 0);
      }
      Finish(code);
      break;
    }
    case MessageType::kError: {
      auto j = f.JsonPayload();
      std::string message = j.ok() ? j->value("message", "error") : "error";
      if (terminal_) terminal_->Restore();
      LogError(what_ + ": " + message);
      // The agent says which exit status fits (127 not found, 126 cannot
      // run); any other error means the session broke.
      Finish(started_ || !j.ok() ? 255 : j->value("exit_code", 255));
      break;
    }
    default:
      break;
  }
}

void ExecClient::Finish(int code) {
  if (finished_) return;
  finished_ = true;
  exit_code_ = code;
  UpdateStdinWatch();
  loop_->Stop();
}

}  // namespace vmcat

#include "agent/exec_session.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/guest_user.h"
#include "base/log.h"
#include "base/program.h"
#include "base/strings.h"
#include "tty/terminal.h"

namespace vmcat {

namespace {

// After the program exits, output still arriving within this time is sent;
// a pipe kept open longer (a daemon it started) no longer delays the exit.
constexpr auto kDrainGrace = std::chrono::seconds(1);
// A program the host abandoned gets SIGHUP, then SIGKILL after this.
constexpr auto kKillGrace = std::chrono::seconds(2);
// Credit for stdin goes back to the host in batches of at least this much.
// After a wake-up that found little output, wait this long before reading
// again, so that a program writing small pieces (busybox head writes 4 KiB at
// a time) is read in large batches: each wake-up and frame costs far more
// than the bytes in it on a guest's CPU. The first output is never delayed.
constexpr auto kCoalesceDelay = std::chrono::milliseconds(4);
constexpr size_t kCoalesceBelow = 32 * 1024;
// The output pipes are made this big so that the program does not block
// while reading pauses to batch (a default pipe holds 64 KiB).
constexpr int kOutputPipeSize = 1 << 20;

struct ChildFailure {
  int stage;  // 0 exec, 1 chdir, 2 user
  int err;
};

// What the child of vfork() does: only system calls, on data the parent
// prepared (the child shares the parent's memory until it execs).
struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;
  bool cwd_required = false;
  bool tty = false;
  int slave_fd = -1;
  int stdio_fds[3] = {-1, -1, -1};
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t group_count = 0;
  int failure_fd = -1;
};

[[noreturn]] void RunChild(const ChildPlan& p) {
  RestoreSignalsForChild();
  setsid();
  if (p.tty) {
    ioctl(p.slave_fd, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd)
      dup2(p.slave_fd, fd);
  } else {
    for (int fd = 0; fd < 3; ++fd)
      dup2(p.stdio_fds[fd], fd);
  }
  ChildFailure f{0, 0};
  if (p.cwd != nullptr && chdir(p.cwd) < 0 && p.cwd_required) {
    f = {1, errno};
  } else if (p.switch_user &&
             (setgroups(p.group_count, p.groups) < 0 || setgid(p.gid) < 0 || setuid(p.uid) < 0)) {
    f = {2, errno};
  } else {
    execve(p.program, p.argv, p.envp);
    f = {0, errno};
  }
  (void)!write(p.failure_fd, &f, sizeof f);
  _exit(127);
}

}  // namespace

ExecSession::ExecSession(Loop* loop, SessionOutput* out)
    : loop_(loop), out_(out), alive_(std::make_shared<ExecSession*>(this)) {}

ExecSession::~ExecSession() {
  *alive_ = nullptr;
  if (drain_timer_) loop_->CancelTimer(drain_timer_);
  if (coalesce_timer_) loop_->CancelTimer(coalesce_timer_);
  for (Stream* s : {&stdout_, &stderr_}) {
    if (s->watching) loop_->Remove(s->fd.get());
  }
  if (stdin_watching_) loop_->Remove(stdin_.get());
}

void ExecSession::Start(const ExecRequest& request) {
  tty_ = request.tty;
  Status s = Spawn(request);
  if (!s.ok()) {
    // As shells do: 127 when the command does not exist, 126 when it (or its
    // working directory or user) cannot be used.
    out_->SendJson(MessageType::kError, {{"message", s.message()},
                                         {"errno", s.sys_errno()},
                                         {"exit_code", command_not_found_ ? 127 : 126}});
    exit_sent_ = true;
    out_->Finished();
    return;
  }
  out_->SendJson(MessageType::kStarted, {{"pid", pid_}});
  std::weak_ptr<ExecSession*> alive = alive_;
  Status watched = loop_->WatchChild(pid_, [alive](int status) {
    auto token = alive.lock();
    if (!token || !*token) return;
    ExecSession* self = *token;
    self->exited_ = true;
    self->wait_status_ = status;
    // Read what is left now; EOF or the drain grace then ends the session.
    for (Stream* s : {&self->stdout_, &self->stderr_}) {
      if (!s->eof && s->fd.valid()) self->ReadOutput(s);
    }
    self->ArmDrainTimer();
    self->MaybeExit();
  });
  if (!watched.ok()) LogWarning("watch child: " + watched.message());
  UpdateWatches();
}

Status ExecSession::Spawn(const ExecRequest& r) {
  std::optional<GuestUser> user;
  if (!r.user.empty()) {
    auto u = LookupGuestUser(r.user);
    if (!u.ok()) return u.status();
    user = *u;
  }
  VMCAT_ASSIGN_OR_RETURN(Pipe failure, MakePipe(0));
  UniqueFd child_in, child_out, child_err, slave;
  if (r.tty) {
    VMCAT_ASSIGN_OR_RETURN(PtyPair pty, OpenPtyPair());
    UniqueFd master = std::move(pty.master);
    slave = std::move(pty.slave);
    winsize ws{};
    ws.ws_row = r.rows;
    ws.ws_col = r.cols;
    ioctl(master.get(), TIOCSWINSZ, &ws);
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(master.get(), true));
    int dup_fd = fcntl(master.get(), F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0) return Status::Errno("dup", errno);
    stdin_.reset(dup_fd);
    stdout_.fd = std::move(master);
    stderr_.eof = true;  // a terminal merges stderr into stdout
  } else {
    if (r.stdin_open) {
      VMCAT_ASSIGN_OR_RETURN(Pipe in, MakePipe(0));
      VMCAT_RETURN_IF_ERROR(SetNonBlocking(in.write_end.get(), true));
      child_in = std::move(in.read_end);
      stdin_ = std::move(in.write_end);
    } else {
      child_in.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    VMCAT_ASSIGN_OR_RETURN(Pipe out, MakePipe(0));
    VMCAT_ASSIGN_OR_RETURN(Pipe err, MakePipe(0));
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(out.read_end.get(), true));
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(err.read_end.get(), true));
    fcntl(out.read_end.get(), F_SETPIPE_SZ, kOutputPipeSize);  // best effort
    child_out = std::move(out.write_end);
    child_err = std::move(err.write_end);
    stdout_.fd = std::move(out.read_end);
    stderr_.fd = std::move(err.read_end);
  }
  // Everything the child needs is prepared here: it runs after vfork(),
  // sharing our memory, so it may only make system calls (a full fork of
  // the agent costs milliseconds of page-table copying on an emulated CPU).
  std::vector<std::string> settings;
  if (user) settings = {"HOME=" + user->home, "USER=" + user->name, "LOGNAME=" + user->name};
  settings.insert(settings.end(), r.env.begin(), r.env.end());
  std::vector<std::string> env_strings = EnvironmentWith(settings);
  std::vector<char*> envp = NullTerminated(env_strings);
  std::string path_list = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : env_strings) {
    if (e.rfind("PATH=", 0) == 0) path_list = e.substr(5);
  }
  std::string program = FindProgram(r.argv[0], path_list);
  if (program.empty()) {
    command_not_found_ = true;
    return Status::ErrorWithErrno(Quote(r.argv[0]) + ": command not found", ENOENT);
  }
  std::vector<std::string> argv_copy = r.argv;
  std::vector<char*> argv = NullTerminated(argv_copy);
  ChildPlan plan;
  plan.program = program.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = r.cwd.empty() ? (user ? user->home.c_str() : nullptr) : r.cwd.c_str();
  plan.cwd_required = !r.cwd.empty();  // a missing home directory is not fatal
  plan.tty = r.tty;
  plan.slave_fd = slave.get();
  plan.stdio_fds[0] = child_in.get();
  plan.stdio_fds[1] = child_out.get();
  plan.stdio_fds[2] = child_err.get();
  plan.switch_user = user.has_value();
  if (user) {
    plan.uid = user->uid;
    plan.gid = user->gid;
    plan.groups = user->groups.data();
    plan.group_count = user->groups.size();
  }
  plan.failure_fd = failure.write_end.get();

  pid_t pid = vfork();
  if (pid < 0) return Status::Errno("vfork", errno);
  if (pid == 0) RunChild(plan);
  pid_ = pid;
  failure.write_end.reset();
  ChildFailure f;
  ssize_t n;
  do {
    n = read(failure.read_end.get(), &f, sizeof f);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof f)) {
    waitpid(pid, nullptr, 0);
    pid_ = -1;
    if (f.stage == 1) return Status::Errno("cd " + r.cwd, f.err);
    if (f.stage == 2) return Status::Errno("switch to user " + r.user, f.err);
    return Status::Errno(Quote(r.argv[0]), f.err);
  }
  return Status::Ok();
}

void ExecSession::UpdateWatches() {
  for (Stream* s : {&stdout_, &stderr_}) {
    bool want = !s->eof && s->fd.valid() && send_window_ > 0 && !aborted_ && coalesce_timer_ == 0;
    if (want == s->watching) continue;
    if (want) {
      s->watching = loop_->Add(s->fd.get(), EPOLLIN, this).ok();
    } else {
      loop_->Remove(s->fd.get());
      s->watching = false;
    }
  }
  bool want_in = stdin_.valid() && !stdin_buffer_.empty();
  if (want_in != stdin_watching_) {
    if (want_in) {
      stdin_watching_ = loop_->Add(stdin_.get(), EPOLLOUT, this).ok();
    } else {
      loop_->Remove(stdin_.get());
      stdin_watching_ = false;
    }
  }
}

void ExecSession::OnIo(int fd, uint32_t events) {
  size_t got = 0;
  if (stdin_.valid() && fd == stdin_.get()) {
    WriteInput();
  } else if (fd == stdout_.fd.get()) {
    got = ReadOutput(&stdout_);
  } else if (fd == stderr_.fd.get()) {
    got = ReadOutput(&stderr_);
  }
  if (got > 0 && got < kCoalesceBelow && !exited_ && coalesce_timer_ == 0) {
    std::weak_ptr<ExecSession*> alive = alive_;
    coalesce_timer_ = loop_->AddTimer(kCoalesceDelay, [alive] {
      auto token = alive.lock();
      if (!token || !*token) return;
      (*token)->coalesce_timer_ = 0;
      (*token)->UpdateWatches();
    });
  }
  UpdateWatches();
  MaybeExit();
}

size_t ExecSession::ReadOutput(Stream* s) {
  size_t total = 0;
  char buf[kMaxDataChunk];
  while (send_window_ > 0 && !s->eof) {
    size_t want = std::min<size_t>(sizeof buf, send_window_);
    ssize_t n = read(s->fd.get(), buf, want);
    if (n > 0) {
      out_->Send(s->type, std::string_view(buf, static_cast<size_t>(n)));
      send_window_ -= static_cast<uint32_t>(n);
      total += static_cast<size_t>(n);
      if (drain_timer_) ArmDrainTimer();  // still flowing: give it more time
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return total;
    // EOF, or EIO on a pty master once the terminal's last user is gone.
    s->eof = true;
    if (s->watching) {
      loop_->Remove(s->fd.get());
      s->watching = false;
    }
  }
  return total;
}

void ExecSession::WriteInput() {
  while (!stdin_buffer_.empty()) {
    ssize_t n = write(stdin_.get(), stdin_buffer_.data(), stdin_buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      // The program stopped reading its input (EPIPE): what is left is
      // undeliverable; credit it back so the host is not stuck.
      stdin_consumed_ += stdin_buffer_.size();
      stdin_buffer_.clear();
      break;
    }
    stdin_consumed_ += static_cast<uint64_t>(n);
    stdin_buffer_.erase(0, static_cast<size_t>(n));
  }
  if (stdin_consumed_ >= kCreditBatch || (stdin_buffer_.empty() && stdin_consumed_ > 0)) {
    out_->Send(MessageType::kWindow, EncodeWindowPayload(static_cast<uint32_t>(stdin_consumed_)));
    stdin_consumed_ = 0;
  }
  if (stdin_buffer_.empty() && stdin_eof_requested_ && stdin_.valid()) {
    if (tty_) {
      // A terminal has no half-close: its EOF character ends the input.
      termios t;
      if (tcgetattr(stdin_.get(), &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE) {
        char eof = static_cast<char>(t.c_cc[VEOF]);
        (void)!write(stdin_.get(), &eof, 1);
      }
    }
    if (stdin_watching_) loop_->Remove(stdin_.get());
    stdin_watching_ = false;
    stdin_.reset();
  }
}

void ExecSession::OnFrame(const Frame& f) {
  switch (f.type) {
    case MessageType::kStdin:
      if (!stdin_.valid()) {
        // No stdin (not requested, or already closed): credit it back.
        out_->Send(MessageType::kWindow,
                   EncodeWindowPayload(static_cast<uint32_t>(f.payload.size())));
        return;
      }
      stdin_buffer_.append(f.payload);
      WriteInput();
      break;
    case MessageType::kStdinEof:
      stdin_eof_requested_ = true;
      if (stdin_.valid()) WriteInput();
      break;
    case MessageType::kWindow: {
      auto credit = DecodeWindowPayload(f.payload);
      if (credit.ok()) send_window_ += *credit;
      for (Stream* s : {&stdout_, &stderr_}) {
        if (!s->eof && s->fd.valid()) ReadOutput(s);
      }
      break;
    }
    case MessageType::kResize:
      if (tty_ && stdout_.fd.valid()) {
        auto j = f.JsonPayload();
        if (j.ok()) {
          winsize ws{};
          ws.ws_row = j->value("rows", uint16_t{24});
          ws.ws_col = j->value("cols", uint16_t{80});
          ioctl(stdout_.fd.get(), TIOCSWINSZ, &ws);
        }
      }
      break;
    case MessageType::kSignal: {
      auto j = f.JsonPayload();
      int sig = j.ok() ? j->value("signal", 0) : 0;
      if (sig > 0 && sig < NSIG) Kill(sig);
      break;
    }
    default:
      break;
  }
  UpdateWatches();
  MaybeExit();
}

void ExecSession::Kill(int sig) {
  if (pid_ <= 0 || exited_) return;
  // The program leads its own session and process group: signal them all,
  // as a terminal would.
  if (kill(-pid_, sig) < 0) kill(pid_, sig);
}

void ExecSession::ArmDrainTimer() {
  if (!exited_) return;
  if (drain_timer_) loop_->CancelTimer(drain_timer_);
  std::weak_ptr<ExecSession*> alive = alive_;
  drain_timer_ = loop_->AddTimer(kDrainGrace, [alive] {
    auto token = alive.lock();
    if (!token || !*token) return;
    ExecSession* self = *token;
    self->drain_timer_ = 0;
    // Only an idle pipe ends early; output held back by flow control is
    // still owed to the host and is never dropped.
    if (self->send_window_ == 0) return self->ArmDrainTimer();
    self->stdout_.eof = self->stderr_.eof = true;
    self->UpdateWatches();
    self->MaybeExit();
  });
}

void ExecSession::MaybeExit() {
  if (exit_sent_ || !exited_ || !stdout_.eof || !stderr_.eof) return;
  SendExit();
}

void ExecSession::SendExit() {
  exit_sent_ = true;
  Json j = Json::object();
  if (WIFSIGNALED(wait_status_)) {
    j["signal"] = WTERMSIG(wait_status_);
  } else {
    j["code"] = WEXITSTATUS(wait_status_);
  }
  out_->SendJson(MessageType::kExit, j);
  out_->Finished();
}

void ExecSession::Abort() {
  if (exit_sent_) return;
  aborted_ = true;
  exit_sent_ = true;
  if (pid_ > 0 && !exited_) {
    Kill(SIGHUP);
    Kill(SIGCONT);
    pid_t pgid = pid_;
    // Not tied to this session's lifetime: it is destroyed right after.
    loop_->AddTimer(kKillGrace, [pgid] { kill(-pgid, SIGKILL); });
  }
  out_->Finished();
}

}  // namespace vmcat

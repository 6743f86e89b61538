#include "relay/server.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cstring>

#include "base/log.h"
#include "base/strings.h"
#include "endpoint/exec.h"
#include "endpoint/sockaddr.h"

namespace vmcat {

namespace {

bool IsStdioLike(const AddressSpec& spec) {
  for (const SingleAddress* a : {&spec.first, spec.write_side ? &*spec.write_side : nullptr}) {
    if (a == nullptr) continue;
    switch (a->type()) {
      case AddressType::kStdio:
      case AddressType::kStdin:
      case AddressType::kStdout:
      case AddressType::kStderr:
      case AddressType::kFd:
      case AddressType::kPty:
        return true;
      default:
        break;
    }
  }
  return false;
}

bool Listens(const AddressSpec& spec) {
  return !spec.IsDual() &&
         (spec.first.IsListener() || spec.first.type() == AddressType::kUdpRecvfrom);
}

// Waits for one connection on a listener, then closes the listener.
class AcceptOnce : public OpenOperation, public IoHandler {
 public:
  AcceptOnce(Loop* loop, std::unique_ptr<Listener> listener, Done done)
      : loop_(loop), listener_(std::move(listener)), done_(std::move(done)) {
    LogNotice("listening on " + listener_->local_name());
    Status s = loop_->Add(listener_->fd(), EPOLLIN, this);
    if (!s.ok()) {
      timer_ = loop_->AddTimer(std::chrono::nanoseconds(0), [this, s] {
        timer_ = 0;
        Complete(s);
      });
    }
  }
  ~AcceptOnce() override {
    if (timer_) loop_->CancelTimer(timer_);
    if (listener_) loop_->Remove(listener_->fd());
  }
  void OnIo(int, uint32_t) override {
    std::string peer;
    auto r = listener_->Accept(&peer);
    if (r.ok() && *r == nullptr) return;  // spurious wake-up
    if (r.ok()) LogNotice("accepted connection from " + peer);
    loop_->Remove(listener_->fd());
    listener_.reset();
    Complete(std::move(r));
  }

 private:
  void Complete(Result<std::unique_ptr<Endpoint>> r) {
    Done done = std::move(done_);
    done(std::move(r));
  }
  Loop* loop_;
  std::unique_ptr<Listener> listener_;
  Done done_;
  Loop::TimerId timer_ = 0;
};

}  // namespace

struct RelayServer::Session {
  std::unique_ptr<Endpoint> accepted;
  std::unique_ptr<OpenOperation> opening;
  std::unique_ptr<Relay> relay;
  std::unique_ptr<ChildProcess> program;  // handed the connection itself
  std::shared_ptr<Session*> alive = std::make_shared<Session*>(this);
};

RelayServer::RelayServer(Loop* loop, const RelayOptions& options, const AddressSpec& first,
                         const AddressSpec& second)
    : loop_(loop), options_(options), specs_{&first, &second} {}

RelayServer::~RelayServer() {
  if (accept_retry_timer_) loop_->CancelTimer(accept_retry_timer_);
  if (listening_) loop_->Remove(listener_->fd());
  sessions_.clear();
  preopen_op_.reset();
  preopened_.reset();
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
    loop_->UnwatchSignal(sig);
}

std::string RelayServer::NameOf(int index) const {
  return "address " + std::to_string(index + 1) + " " + Quote(specs_[index]->text);
}

Access RelayServer::AccessOf(int index) const {
  switch (options_.direction) {
    case RelayOptions::Direction::kBoth:
      return Access::kBoth;
    case RelayOptions::Direction::kForward:
      return index == 0 ? Access::kRead : Access::kWrite;
    case RelayOptions::Direction::kReverse:
      return index == 0 ? Access::kWrite : Access::kRead;
  }
  return Access::kBoth;
}

Result<bool> RelayServer::ShareOutput(int other) {
  const AddressSpec& spec = *specs_[other];
  const SingleAddress& a = spec.first;
  if (spec.IsDual() || a.type() == AddressType::kPty) return false;
  auto [read_fd, fd] = StdioDescriptors(a, AccessOf(other));
  if (read_fd >= 0) return false;
  // Only an output that nobody reads back, and whose terminal settings no
  // connection changes: the bytes of concurrent connections interleave by
  // write, as socat's children's do.
  if (fd < 0 || a.options.termios.Any()) return false;
  if (fcntl(fd, F_GETFL) < 0) {
    return Status::Errno("fd " + std::to_string(fd), errno).Prefix(NameOf(other));
  }
  shared_output_flags_ = FlagsGuard(fd);
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(fd, true));
  shared_output_spec_ = spec;
  shared_output_spec_->first.options.shared_output = true;
  specs_[other] = &*shared_output_spec_;
  return true;
}

Status RelayServer::Start() {
  for (int i = 0; i < 2; ++i) {
    if (Listens(*specs_[i])) {
      listen_index_ = i;
      break;
    }
  }
  for (int i = 0; i < 2; ++i) {
    for (const SingleAddress* a :
         {&specs_[i]->first, specs_[i]->write_side ? &*specs_[i]->write_side : nullptr}) {
      if (a == nullptr) continue;
      if (a->type() == AddressType::kExec || a->type() == AddressType::kSystem) {
        if (i != listen_index_) program_other_ = true;
        if (a->options.sigint) forwarded_signals_.insert(SIGINT);
        if (a->options.sighup) forwarded_signals_.insert(SIGHUP);
        if (a->options.sigquit) forwarded_signals_.insert(SIGQUIT);
      }
      if (a->options.fork && i != listen_index_) {
        return Status::Error(NameOf(i) + ": fork needs a listening address");
      }
    }
  }
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    VMCAT_RETURN_IF_ERROR(loop_->WatchSignal(sig, [this](int s) { OnSignal(s); }));
  }
  if (listen_index_ >= 0) fork_ = specs_[listen_index_]->first.options.fork;
  int other = 1 - listen_index_;

  if (listen_index_ < 0) {
    OpenDirect();
    return Status::Ok();
  }
  if (fork_ && IsStdioLike(*specs_[other])) {
    VMCAT_ASSIGN_OR_RETURN(bool shared, ShareOutput(other));
    if (!shared) {
      return Status::Error(NameOf(other) +
                           ": with fork, standard I/O, an FD or a PTY would be read or owned by "
                           "every connection; only an output can be shared (STDOUT, STDERR, or "
                           "- and FD with -u)");
    }
  }
  auto listener = Listener::Create(specs_[listen_index_]->first, NameOf(listen_index_));
  if (!listener.ok()) return listener.status().Prefix(NameOf(listen_index_));

  if (fork_) {
    hand_over_ = CanHandOver(other);
    listener_ = std::move(listener).value();
    LogNotice("listening on " + listener_->local_name());
    UpdateListening();
    return Status::Ok();
  }

  // One connection. socat opens address 1 first, whichever one listens.
  auto session = std::make_unique<Session>();
  Session* s = session.get();
  sessions_.push_back(std::move(session));
  auto accept_then = [this, s](Result<std::unique_ptr<Endpoint>> r) {
    if (!r.ok()) return EndSession(s, r.status().Prefix(NameOf(listen_index_)));
    if (listen_index_ == 0) {
      StartSession(std::move(r).value(), "");
      EndSession(s, Status::Ok());  // replaced by the new session
    } else {
      StartRelay(s, std::move(preopened_), std::move(r).value());
    }
  };
  if (listen_index_ == 0) {
    s->opening = std::make_unique<AcceptOnce>(loop_, std::move(listener).value(), accept_then);
    fork_ = false;
  } else {
    auto l = std::make_shared<std::unique_ptr<Listener>>(std::move(listener).value());
    s->opening = StartOpen(loop_, *specs_[0], NameOf(0), AccessOf(0),
                           [this, s, l, accept_then](Result<std::unique_ptr<Endpoint>> r) {
                             if (!r.ok()) return EndSession(s, r.status());
                             preopened_ = std::move(r).value();
                             s->opening =
                                 std::make_unique<AcceptOnce>(loop_, std::move(*l), accept_then);
                           });
  }
  return Status::Ok();
}

void RelayServer::OpenDirect() {
  auto session = std::make_unique<Session>();
  Session* s = session.get();
  sessions_.push_back(std::move(session));
  s->opening = StartOpen(
      loop_, *specs_[0], NameOf(0), AccessOf(0), [this, s](Result<std::unique_ptr<Endpoint>> r) {
        if (!r.ok()) return EndSession(s, r.status());
        s->accepted = std::move(r).value();
        s->opening = StartOpen(loop_, *specs_[1], NameOf(1), AccessOf(1),
                               [this, s](Result<std::unique_ptr<Endpoint>> r2) {
                                 if (!r2.ok()) return EndSession(s, r2.status());
                                 StartRelay(s, std::move(s->accepted), std::move(r2).value());
                               });
      });
}

void RelayServer::UpdateListening() {
  if (!listener_) return;
  const auto& max = specs_[listen_index_]->first.options.max_children;
  bool want = !max || sessions_.size() < *max;
  if (want == listening_ || accept_retry_timer_) return;
  if (want) {
    Status s = loop_->Add(listener_->fd(), EPOLLIN, this);
    if (!s.ok()) {
      LogError(NameOf(listen_index_) + ": " + s.message());
      return Finish(1);
    }
  } else {
    loop_->Remove(listener_->fd());
  }
  listening_ = want;
}

void RelayServer::OnIo(int fd, uint32_t events) {
  AcceptReady();
}

void RelayServer::AcceptReady() {
  // One connection per readiness report: the listener is level-triggered,
  // so a backlog is reported again by the next epoll_wait, and a lone
  // connection costs no accept(2) that fails with EAGAIN.
  const auto& max = specs_[listen_index_]->first.options.max_children;
  if (listener_ && (!max || sessions_.size() < *max)) {
    std::string peer;
    bool log = LogEnabled(LogLevel::kNotice);
    auto r = listener_->Accept(log ? &peer : nullptr);
    if (!r.ok()) {
      // EMFILE and friends: pause accepting briefly instead of spinning.
      LogError(NameOf(listen_index_) + ": " + r.status().message());
      if (listening_) loop_->Remove(listener_->fd());
      listening_ = false;
      accept_retry_timer_ = loop_->AddTimer(std::chrono::milliseconds(100), [this] {
        accept_retry_timer_ = 0;
        UpdateListening();
      });
      return;
    }
    if (*r != nullptr) {
      if (log) LogNotice("accepted connection from " + peer);
      StartSession(std::move(r).value(), peer);
    }
  }
  UpdateListening();
}

// With fork, a program that would only talk to the connection through the
// relay (EXEC/SYSTEM on a socketpair, nothing for the relay to transform,
// dump, time or restrict to one direction) gets the connection itself, as
// from inetd: no relaying, and one process start is all a connection costs.
// What the program sees is the same: a bidirectional stream socket on stdin
// and stdout, EOF when the client shuts down its side.
bool RelayServer::CanHandOver(int other) const {
  const AddressSpec& listen = *specs_[listen_index_];
  const AddressSpec& program = *specs_[other];
  if (listen.IsDual() || program.IsDual() || listen.first.IsDatagram()) return false;
  AddressType t = program.first.type();
  if (t != AddressType::kExec && t != AddressType::kSystem) return false;
  if (options_.direction != RelayOptions::Direction::kBoth || options_.half_close_timeout ||
      options_.idle_timeout || options_.pump.dump_text || options_.pump.dump_hex) {
    return false;
  }
  for (const AddressOptions* o : {&listen.first.options, &program.first.options}) {
    if (o->escape || o->crnl || o->cr || o->ignoreeof || o->termios.Any()) return false;
  }
  const AddressOptions& p = program.first.options;
  return !p.pty && !p.pipes && !p.ctty;
}

void RelayServer::HandOver(Session* s, const std::vector<std::string>& env) {
  int other = 1 - listen_index_;
  auto child = SpawnExecOnConnection(specs_[other]->first, s->accepted->read_fd(), env);
  s->accepted.reset();  // the program has the connection now
  if (!child.ok()) return EndSession(s, child.status().Prefix(NameOf(other)));
  s->program = std::move(child).value();
  pid_t pid = s->program->pid();
  std::weak_ptr<Session*> alive = s->alive;
  Status watched = loop_->WatchChild(pid, [this, alive, pid](int status) {
    auto token = alive.lock();
    if (!token || !*token) return;  // session gone (server ending); reaped
    Session* session = *token;
    session->program->MarkExited(status);
    if (LogEnabled(LogLevel::kNotice)) {
      LogNotice("program " + std::to_string(pid) + " " + DescribeWaitStatus(status));
    }
    EndSession(session, Status::Ok());
  });
  if (!watched.ok()) EndSession(s, watched.Prefix("watch program " + std::to_string(pid)));
}

void RelayServer::StartSession(std::unique_ptr<Endpoint> accepted, const std::string& peer) {
  auto session = std::make_unique<Session>();
  Session* s = session.get();
  sessions_.push_back(std::move(session));
  s->accepted = std::move(accepted);
  // A program on the other side learns the connection's addresses, as from socat.
  std::vector<std::string> env;
  if (program_other_) env = SocatPeerEnvironment(s->accepted->read_fd());
  if (hand_over_) return HandOver(s, env);
  int other = 1 - listen_index_;
  s->opening = StartOpen(loop_, *specs_[other], NameOf(other), AccessOf(other),
                         [this, s, other](Result<std::unique_ptr<Endpoint>> r) {
                           if (!r.ok()) return EndSession(s, r.status());
                           std::unique_ptr<Endpoint> mine = std::move(s->accepted);
                           if (other == 1) {
                             StartRelay(s, std::move(mine), std::move(r).value());
                           } else {
                             StartRelay(s, std::move(r).value(), std::move(mine));
                           }
                         },
                         std::move(env));
}

void RelayServer::StartRelay(Session* s, std::unique_ptr<Endpoint> first,
                             std::unique_ptr<Endpoint> second) {
  s->relay =
      std::make_unique<Relay>(loop_, options_, std::move(first), *specs_[0], std::move(second),
                              *specs_[1], [this, s](Status status) { EndSession(s, status); });
  Status started = s->relay->Start();
  if (!started.ok()) EndSession(s, started);
}

void RelayServer::EndSession(Session* s, const Status& status) {
  if (!status.ok()) LogError(status.message());
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->get() == s) {
      // Destroying the session can run callbacks; detach it from the list first.
      std::unique_ptr<Session> doomed = std::move(*it);
      sessions_.erase(it);
      doomed.reset();
      break;
    }
  }
  if (fork_) {
    UpdateListening();
    return;
  }
  if (sessions_.empty()) Finish(status.ok() ? 0 : 1);
}

void RelayServer::OnSignal(int signo) {
  if (forwarded_signals_.count(signo)) {
    for (auto& s : sessions_) {
      if (s->program && !s->program->exited()) kill(s->program->pid(), signo);
      if (!s->relay) continue;
      for (const Endpoint* e : {s->relay->first(), s->relay->second()}) {
        for (ChildProcess* child : e->children()) {
          if (!child->exited()) kill(child->pid(), signo);
        }
      }
    }
    return;
  }
  LogNotice("exiting on signal " + std::to_string(signo));
  Finish(128 + signo);
}

void RelayServer::Finish(int status) {
  exit_status_ = status;
  if (listening_) loop_->Remove(listener_->fd());
  listening_ = false;
  listener_.reset();
  // Destroy sessions now so that terminals are restored and children told to stop.
  while (!sessions_.empty()) {
    std::unique_ptr<Session> doomed = std::move(sessions_.front());
    sessions_.pop_front();
  }
  preopened_.reset();
  loop_->Stop();
}

}  // namespace vmcat

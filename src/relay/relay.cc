#include "relay/relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"

namespace vmcat {

namespace {
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// socat's default -t: how long to wait for more datagrams after the other
// direction ended, when the remaining direction reads from a datagram socket.
constexpr double kDatagramHalfCloseWait = 0.5;

// After the escape byte, the other direction delivers what was readable at
// that moment; this bounds how long a sink that does not take it may delay
// the end.
constexpr double kEscapeDrainLimit = 1.0;

// When both directions have ended but a program still runs: how long to wait
// for its exit status before stopping it (socat's default -t).
constexpr double kProgramExitWait = 0.5;

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::nanoseconds(static_cast<int64_t>(s * 1e9));
}

const SingleAddress& ReadSide(const AddressSpec& spec) {
  return spec.first;
}
const SingleAddress& WriteSide(const AddressSpec& spec) {
  return spec.write_side ? *spec.write_side : spec.first;
}

bool IsUserTerminal(const AddressSpec& spec, const Endpoint& e) {
  switch (ReadSide(spec).type()) {
    case AddressType::kStdio:
    case AddressType::kStdin:
    case AddressType::kFd:
      return e.read_kind() == FdKind::kTty;
    default:
      return false;
  }
}
}  // namespace

Relay::Relay(Loop* loop, const RelayOptions& options, std::unique_ptr<Endpoint> first,
             const AddressSpec& first_spec, std::unique_ptr<Endpoint> second,
             const AddressSpec& second_spec, Done done)
    : loop_(loop),
      options_(options),
      specs_{&first_spec, &second_spec},
      done_(std::move(done)),
      alive_(std::make_shared<Relay*>(this)) {
  endpoints_[0] = std::move(first);
  endpoints_[1] = std::move(second);
}

Relay::~Relay() {
  *alive_ = nullptr;
  for (Loop::TimerId id :
       {half_close_timer_, idle_timer_, drain_timer_, close_timers_[0], close_timers_[1]}) {
    if (id) loop_->CancelTimer(id);
  }
  for (int fd : registered_)
    loop_->Remove(fd);
  // Pumps refer to endpoints: destroy them first.
  pumps_[0].reset();
  pumps_[1].reset();
}

FdState* Relay::StateFor(int fd) {
  for (auto& s : fds_) {
    if (s->fd == fd) return s.get();
  }
  auto state = std::make_unique<FdState>();
  state->fd = fd;
  if (fd < 0) {
    // A direction the address does not have (write-only file, STDIN as a
    // sink): the pump finds out on its first attempt.
    state->pollable = false;
    state->readable = state->writable = true;
  } else {
    Status added = loop_->Add(fd, kEvents, this);
    if (added.ok()) {
      registered_.push_back(fd);
    } else {
      // Regular files and some devices cannot be polled: always ready.
      state->pollable = false;
      state->readable = state->writable = true;
    }
  }
  fds_.push_back(std::move(state));
  return fds_.back().get();
}

Status Relay::Start() {
  last_activity_ = Clock::now();
  bool forward = options_.direction != RelayOptions::Direction::kReverse;
  bool reverse = options_.direction != RelayOptions::Direction::kForward;
  Endpoint* a = endpoints_[0].get();
  Endpoint* b = endpoints_[1].get();
  if (forward) {
    pumps_[0] = std::make_unique<Pump>(
        this, '>', a, ReadSide(*specs_[0]).options, ReadSide(*specs_[0]).IsDatagram(), b,
        WriteSide(*specs_[1]).options, WriteSide(*specs_[1]).IsDatagram(), StateFor(a->read_fd()),
        StateFor(b->write_fd()), options_.pump);
  }
  if (reverse) {
    pumps_[1] = std::make_unique<Pump>(
        this, '<', b, ReadSide(*specs_[1]).options, ReadSide(*specs_[1]).IsDatagram(), a,
        WriteSide(*specs_[0]).options, WriteSide(*specs_[0]).IsDatagram(), StateFor(b->read_fd()),
        StateFor(a->write_fd()), options_.pump);
  }
  WatchChildren(0);
  WatchChildren(1);
  ArmIdleTimer();
  if (LogEnabled(LogLevel::kNotice)) {  // a fork server starts one per connection
    auto fds = [](const Endpoint* e) {
      return "[" + std::to_string(e->read_fd()) + "," + std::to_string(e->write_fd()) + "]";
    };
    LogNotice("starting data transfer loop with FDs " + fds(a) + " and " + fds(b));
  }
  // Edge-triggered registration reports current readiness right away; run the
  // pumps once anyway for descriptors that cannot be polled.
  std::weak_ptr<Relay*> alive = alive_;
  loop_->Post([alive] {
    auto token = alive.lock();
    if (!token || !*token) return;
    Relay* self = *token;
    for (auto& p : self->pumps_) {
      if (p && !self->ended_) p->Run();
    }
  });
  return Status::Ok();
}

void Relay::WatchChildren(int index) {
  for (ChildProcess* child : endpoints_[index]->children()) {
    std::weak_ptr<Relay*> alive = alive_;
    Status s = loop_->WatchChild(child->pid(), [alive, child, index](int status) {
      auto token = alive.lock();
      if (!token || !*token) return;  // relay gone; the loop reaped the child
      Relay* self = *token;
      child->MarkExited(status);
      if (self->awaiting_programs_) {
        if (!self->ProgramRunning()) self->End(Status::Ok());
        return;
      }
      // Pump [index] reads from endpoint `index`; the other one writes to it.
      Pump* reader = self->pumps_[index].get();
      Pump* writer = self->pumps_[1 - index].get();
      if (writer) writer->SinkProgramExited();
      if (reader) {
        reader->SourceProgramExited();
        reader->Run();
      }
    });
    if (!s.ok()) LogWarning("watch child " + std::to_string(child->pid()) + ": " + s.message());
  }
}

void Relay::OnIo(int fd, uint32_t events) {
  if (ended_) return;
  FdState* state = nullptr;
  for (auto& s : fds_) {
    if (s->fd == fd) state = s.get();
  }
  if (state == nullptr) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) state->readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) state->hangup = true;
  if (events & (EPOLLHUP | EPOLLERR)) state->gone = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) state->writable = true;
  for (auto& p : pumps_) {
    if (ended_) return;
    if (p && p->active()) p->Run();
  }
  EndIfSinkGone();
}

void Relay::EndIfSinkGone() {
  for (int i = 0; i < 2 && !ended_; ++i) {
    Pump* p = pumps_[i].get();
    if (p == nullptr || !p->active() || !p->out()->gone) continue;
    if (p->sink()->write_kind() != FdKind::kStreamSocket) continue;
    // Only once the direction reading that socket has read what the peer
    // sent before it left, and delivered the EOF too (an EXEC program may
    // still be reading its input): before that, the peer's data is not lost.
    // A socket nobody reads from reports the loss on the next write.
    Pump* reverse = pumps_[1 - i].get();
    if (reverse == nullptr || reverse->in() != p->out() || !reverse->finished()) continue;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p->out()->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    LogInfo(p->sink()->name() + ": the peer closed the connection: ending the relay");
    if (err == 0 && AwaitPrograms()) return;  // its exit status
    End(err != 0 ? Status::Errno("connection", err).Prefix(p->sink()->name()) : Status::Ok());
  }
}

void Relay::OnPumpFinished(Pump* pump) {
  LogInfo(std::string("direction ") + (pump->direction() == '>' ? "1->2" : "2->1") +
          " ended after " + std::to_string(pump->bytes()) + " bytes");
  Pump* other = pump == pumps_[0].get() ? pumps_[1].get() : pumps_[0].get();
  if (other == nullptr || !other->active()) {
    if (!pump->escaped() && AwaitPrograms()) return;
    return End(Status::Ok());
  }
  if (pump->escaped()) {
    // The user asked to leave: deliver what is already on its way (an
    // answer that arrived with the keystroke), but never wait for more.
    other->Drain();
    if (!ended_ && other->active() && drain_timer_ == 0) {
      std::weak_ptr<Relay*> alive = alive_;
      drain_timer_ = loop_->AddTimer(Seconds(kEscapeDrainLimit), [alive] {
        auto token = alive.lock();
        if (!token || !*token) return;
        (*token)->drain_timer_ = 0;
        (*token)->End(Status::Ok());
      });
    }
    return;
  }
  int other_source = other == pumps_[0].get() ? 0 : 1;
  if (IsUserTerminal(*specs_[other_source], *endpoints_[other_source])) {
    return End(Status::Ok());
  }
  EndIfSinkGone();
  if (ended_) return;
  std::optional<double> wait = options_.half_close_timeout;
  // A datagram socket never reads an EOF, so waiting for the remaining
  // direction to end would never end (`echo msg | vmcat relay - UDP:h:p`
  // would hang): wait as socat does by default instead.
  // Nor does a PTY address: its slave may be opened and closed any number of
  // times, so it never reads an EOF either.
  if (!wait && (endpoints_[other_source]->read_kind() == FdKind::kDatagramSocket ||
                ReadSide(*specs_[other_source]).type() == AddressType::kPty)) {
    wait = kDatagramHalfCloseWait;
  }
  if (wait && half_close_timer_ == 0) {
    ArmHalfCloseTimer(*wait, "-t timeout after half-close: ending the relay");
  }
}

void Relay::ArmHalfCloseTimer(double seconds, const char* why) {
  if (half_close_timer_) loop_->CancelTimer(half_close_timer_);
  std::weak_ptr<Relay*> alive = alive_;
  half_close_timer_ = loop_->AddTimer(Seconds(seconds), [alive, why] {
    auto token = alive.lock();
    if (!token || !*token) return;
    (*token)->half_close_timer_ = 0;
    LogInfo(why);
    (*token)->End(Status::Ok());
  });
}

bool Relay::ProgramRunning() const {
  for (const auto& e : endpoints_) {
    for (ChildProcess* child : e->children()) {
      if (!child->exited()) return true;
    }
  }
  return false;
}

bool Relay::AwaitPrograms() {
  if (!ProgramRunning()) return false;
  if (awaiting_programs_) return true;
  awaiting_programs_ = true;
  bool unidirectional = !pumps_[0] || !pumps_[1];  // -u / -U
  std::optional<double> wait = options_.half_close_timeout;
  if (!wait && !unidirectional) wait = kProgramExitWait;
  LogInfo("waiting for the program to exit");
  if (wait) {
    ArmHalfCloseTimer(*wait, "the program still runs after the data ended: stopping it");
  } else if (half_close_timer_) {
    loop_->CancelTimer(half_close_timer_);
    half_close_timer_ = 0;
  }
  return true;
}

Status Relay::ProgramFailure() const {
  for (const auto& e : endpoints_) {
    for (ChildProcess* child : e->children()) {
      if (!child->exited()) continue;
      int st = child->wait_status();
      if (st != 0) return Status::Error(e->name() + ": the program " + DescribeWaitStatus(st));
    }
  }
  return Status::Ok();
}

void Relay::OnPumpFailed(Pump* pump, Status status) {
  End(status);
}

void Relay::OnPumpYield(Pump* pump) {
  std::weak_ptr<Relay*> alive = alive_;
  loop_->Post([alive, pump] {
    auto token = alive.lock();
    if (!token || !*token || (*token)->ended_) return;
    if (pump->active()) pump->Run();
  });
}

void Relay::OnPumpPollLater(Pump* pump) {
  std::weak_ptr<Relay*> alive = alive_;
  loop_->AddTimer(std::chrono::milliseconds(100), [alive, pump] {
    auto token = alive.lock();
    if (!token || !*token || (*token)->ended_) return;
    for (auto& s : (*token)->fds_) {
      if (!s->pollable) s->readable = true;
    }
    if (pump->active()) pump->Run();
  });
}

void Relay::OnPumpCloseLater(Pump* pump, std::chrono::milliseconds delay) {
  int index = IndexOf(pump);
  if (close_timers_[index]) loop_->CancelTimer(close_timers_[index]);
  std::weak_ptr<Relay*> alive = alive_;
  close_timers_[index] = loop_->AddTimer(delay, [alive, pump, index] {
    auto token = alive.lock();
    if (!token || !*token) return;
    Relay* self = *token;
    self->close_timers_[index] = 0;
    if (self->ended_) return;
    pump->RetryClose();
    self->EndIfSinkGone();
  });
}

void Relay::OnPumpActivity() {
  if (options_.idle_timeout) last_activity_ = Clock::now();
}

void Relay::ArmIdleTimer() {
  if (!options_.idle_timeout) return;
  auto deadline = last_activity_ + Seconds(*options_.idle_timeout);
  auto delay = deadline - Clock::now();
  std::weak_ptr<Relay*> alive = alive_;
  idle_timer_ = loop_->AddTimer(delay, [alive] {
    auto token = alive.lock();
    if (!token || !*token) return;
    Relay* self = *token;
    self->idle_timer_ = 0;
    if (Clock::now() - self->last_activity_ >= Seconds(*self->options_.idle_timeout)) {
      LogInfo("-T: no data for the inactivity timeout: ending the relay");
      self->End(Status::Ok());
    } else {
      self->ArmIdleTimer();
    }
  });
}

void Relay::Stop(Status status) {
  End(std::move(status));
}

void Relay::End(Status status) {
  if (ended_) return;
  ended_ = true;
  if (status.ok()) status = ProgramFailure();
  for (int fd : registered_)
    loop_->Remove(fd);
  registered_.clear();
  for (Loop::TimerId* id :
       {&half_close_timer_, &idle_timer_, &drain_timer_, &close_timers_[0], &close_timers_[1]}) {
    if (*id) loop_->CancelTimer(*id);
    *id = 0;
  }
  // Report from a fresh loop turn: the caller may destroy the relay, and we
  // may be deep inside one of its pumps right now.
  std::weak_ptr<Relay*> alive = alive_;
  loop_->Post([alive, status] {
    auto token = alive.lock();
    if (!token || !*token) return;
    Done done = std::move((*token)->done_);
    if (done) done(status);
  });
}

}  // namespace vmcat

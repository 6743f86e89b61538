#include "relay/relay.h"

#include <unistd.h>

#include <cerrno>

#include "base/log.h"

namespace vmcat {

namespace {
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// socat's default -t: how long to wait for more datagrams after the other
// direction ended, when the remaining direction reads from a datagram socket.
constexpr double kDatagramHalfCloseWait = 0.5;

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
  if (half_close_timer_) loop_->CancelTimer(half_close_timer_);
  if (idle_timer_) loop_->CancelTimer(idle_timer_);
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
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) state->writable = true;
  for (auto& p : pumps_) {
    if (ended_) return;
    if (p && p->active()) p->Run();
  }
}

void Relay::OnPumpFinished(Pump* pump) {
  LogInfo(std::string("direction ") + (pump->direction() == '>' ? "1->2" : "2->1") +
          " ended after " + std::to_string(pump->bytes()) + " bytes");
  Pump* other = pump == pumps_[0].get() ? pumps_[1].get() : pumps_[0].get();
  if (other == nullptr || !other->active()) return End(Status::Ok());
  if (pump->escaped()) return End(Status::Ok());
  int other_source = other == pumps_[0].get() ? 0 : 1;
  if (IsUserTerminal(*specs_[other_source], *endpoints_[other_source])) {
    return End(Status::Ok());
  }
  std::optional<double> wait = options_.half_close_timeout;
  // A datagram socket never reads an EOF, so waiting for the remaining
  // direction to end would never end (`echo msg | vmcat relay - UDP:h:p`
  // would hang): wait as socat does by default instead.
  if (!wait && endpoints_[other_source]->read_kind() == FdKind::kDatagramSocket) {
    wait = kDatagramHalfCloseWait;
  }
  if (wait && half_close_timer_ == 0) {
    std::weak_ptr<Relay*> alive = alive_;
    half_close_timer_ = loop_->AddTimer(Seconds(*wait), [alive] {
      auto token = alive.lock();
      if (!token || !*token) return;
      (*token)->half_close_timer_ = 0;
      LogInfo("-t timeout after half-close: ending the relay");
      (*token)->End(Status::Ok());
    });
  }
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
  for (int fd : registered_)
    loop_->Remove(fd);
  registered_.clear();
  if (half_close_timer_) loop_->CancelTimer(half_close_timer_);
  if (idle_timer_) loop_->CancelTimer(idle_timer_);
  half_close_timer_ = idle_timer_ = 0;
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

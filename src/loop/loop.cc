#include "loop/loop.h"

#include <sched.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vmcat {

namespace {
constexpr int kMaxEvents = 256;

uint64_t Pack(int fd, uint32_t generation) {
  return (static_cast<uint64_t>(generation) << 32) | static_cast<uint32_t>(fd);
}
}  // namespace

// All watched signals share one signalfd.
class Loop::SignalSource : public IoHandler {
 public:
  explicit SignalSource(Loop* loop) : loop_(loop) { sigemptyset(&mask_); }
  ~SignalSource() override {
    if (fd_.valid()) loop_->Remove(fd_.get());
    sigprocmask(SIG_UNBLOCK, &mask_, nullptr);
  }

  Status Watch(int signo, std::function<void(int)> handler) {
    sigaddset(&mask_, signo);
    if (sigprocmask(SIG_BLOCK, &mask_, nullptr) < 0) return Status::Errno("sigprocmask", errno);
    int fd = signalfd(fd_.valid() ? fd_.get() : -1, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return Status::Errno("signalfd", errno);
    if (!fd_.valid()) {
      fd_.reset(fd);
      VMCAT_RETURN_IF_ERROR(loop_->Add(fd, EPOLLIN, this));
    }
    handlers_[signo] = std::move(handler);
    return Status::Ok();
  }

  void Unwatch(int signo) {
    handlers_.erase(signo);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigdelset(&mask_, signo);
    if (fd_.valid()) signalfd(fd_.get(), &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
  }

  bool empty() const { return handlers_.empty(); }

  void OnIo(int, uint32_t) override {
    signalfd_siginfo info;
    while (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      auto it = handlers_.find(static_cast<int>(info.ssi_signo));
      if (it != handlers_.end()) {
        auto handler = it->second;  // copy: the handler may unwatch itself
        handler(static_cast<int>(info.ssi_signo));
      }
    }
  }

 private:
  Loop* loop_;
  UniqueFd fd_;
  sigset_t mask_;
  std::map<int, std::function<void(int)>> handlers_;
};

// One child process, watched through its pidfd.
class Loop::ChildSource : public IoHandler {
 public:
  ChildSource(Loop* loop, pid_t pid, UniqueFd pidfd, std::function<void(int)> on_exit)
      : loop_(loop), pid_(pid), pidfd_(std::move(pidfd)), on_exit_(std::move(on_exit)) {}

  int fd() const { return pidfd_.get(); }

  void OnIo(int, uint32_t) override {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return;  // spurious: not exited yet
    auto on_exit = std::move(on_exit_);
    int fd = pidfd_.get();
    loop_->Remove(fd);
    loop_->children_.erase(fd);
    delete this;
    if (r < 0) status = 0;
    on_exit(status);
  }

 private:
  Loop* loop_;
  pid_t pid_;
  UniqueFd pidfd_;
  std::function<void(int)> on_exit_;
};

Loop::Loop() : epoll_(epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_.valid()) Fatal("epoll_create1 failed");
}

Loop::~Loop() {
  for (auto& [fd, child] : children_) {
    Remove(fd);
    delete child;
  }
  delete signals_;
}

Status Loop::Add(int fd, uint32_t events, IoHandler* handler) {
  if (fd < 0) return Status::Error("invalid fd");
  if (static_cast<size_t>(fd) >= registrations_.size()) registrations_.resize(fd + 64);
  Registration& reg = registrations_[fd];
  if (reg.handler != nullptr) return Status::Error("fd already registered");
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = Pack(fd, reg.generation + 1);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
    return Status::Errno("epoll_ctl(ADD)", errno);
  }
  reg.generation++;
  reg.handler = handler;
  live_registrations_++;
  return Status::Ok();
}

Status Loop::Modify(int fd, uint32_t events) {
  if (fd < 0 || static_cast<size_t>(fd) >= registrations_.size() ||
      registrations_[fd].handler == nullptr) {
    return Status::Error("fd not registered");
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = Pack(fd, registrations_[fd].generation);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) {
    return Status::Errno("epoll_ctl(MOD)", errno);
  }
  return Status::Ok();
}

void Loop::Remove(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= registrations_.size()) return;
  Registration& reg = registrations_[fd];
  if (reg.handler == nullptr) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  reg.handler = nullptr;
  reg.generation++;
  live_registrations_--;
}

void Loop::Post(Task task) {
  posted_.push_back(std::move(task));
}

Loop::TimerId Loop::AddTimer(Clock::duration delay, Task task) {
  TimerId id = next_timer_id_++;
  Clock::time_point deadline = Clock::now() + delay;
  timer_order_.emplace(deadline, id);
  timers_.emplace(id, Timer{deadline, std::move(task)});
  return id;
}

void Loop::CancelTimer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  timer_order_.erase({it->second.deadline, id});
  timers_.erase(it);
}

Status Loop::WatchSignal(int signo, std::function<void(int)> on_signal) {
  if (signals_ == nullptr) signals_ = new SignalSource(this);
  return signals_->Watch(signo, std::move(on_signal));
}

void Loop::UnwatchSignal(int signo) {
  if (signals_ != nullptr) signals_->Unwatch(signo);
}

Status Loop::WatchChild(pid_t pid, std::function<void(int)> on_exit) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return Status::Errno("pidfd_open", errno);
  UniqueFd pidfd(fd);
  SetCloseOnExec(fd, true).ok();
  auto* source = new ChildSource(this, pid, std::move(pidfd), std::move(on_exit));
  Status added = Add(fd, EPOLLIN, source);
  if (!added.ok()) {
    delete source;
    return added;
  }
  children_[fd] = source;
  return Status::Ok();
}

int Loop::NextTimeoutMs() const {
  if (!posted_.empty()) return 0;
  if (timer_order_.empty()) return -1;
  auto delta = timer_order_.begin()->first - Clock::now();
  if (delta <= Clock::duration::zero()) return 0;
  // Round up so that a timer never fires early.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(delta).count();
  return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

void Loop::RunTimers() {
  Clock::time_point now = Clock::now();
  while (!timer_order_.empty() && timer_order_.begin()->first <= now && !stopped_) {
    TimerId id = timer_order_.begin()->second;
    timer_order_.erase(timer_order_.begin());
    auto it = timers_.find(id);
    Task task = std::move(it->second.task);
    timers_.erase(it);
    task();
  }
}

void Loop::RunPosted() {
  // Tasks posted while running go to the next round, so a task that re-posts
  // itself cannot starve I/O.
  std::vector<Task> batch;
  batch.swap(posted_);
  for (Task& task : batch) {
    if (stopped_) {
      // Keep the rest for a later Run().
      posted_.push_back(std::move(task));
      continue;
    }
    task();
  }
}

Status Loop::Run() {
  stopped_ = false;
  epoll_event events[kMaxEvents];
  bool handled_io = false;
  while (!stopped_) {
    int n = 0;
    if (handled_io && poll_window_.count() > 0) n = PollBriefly(events, kMaxEvents);
    if (n == 0) n = epoll_wait(epoll_.get(), events, kMaxEvents, NextTimeoutMs());
    handled_io = n > 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("epoll_wait", errno);
    }
    for (int i = 0; i < n && !stopped_; ++i) {
      int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
      uint32_t generation = static_cast<uint32_t>(events[i].data.u64 >> 32);
      if (static_cast<size_t>(fd) >= registrations_.size()) continue;
      Registration& reg = registrations_[fd];
      if (reg.handler == nullptr || reg.generation != generation) continue;
      reg.handler->OnIo(fd, events[i].events);
    }
    if (!stopped_) RunTimers();
    if (!stopped_) RunPosted();
  }
  return Status::Ok();
}

int Loop::PollBriefly(epoll_event* events, int max_events) {
  if (!posted_.empty() || NextTimeoutMs() == 0) return 0;  // work is due anyway
  Clock::time_point until = Clock::now() + poll_window_;
  if (!timer_order_.empty()) until = std::min(until, timer_order_.begin()->first);
  do {
    int n = epoll_wait(epoll_.get(), events, max_events, 0);
    if (n != 0) return n;  // events (or an error, which the caller's wait reports)
    sched_yield();
  } while (Clock::now() < until);
  return 0;
}

void RestoreSignalsForChild() {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_DFL);
  }
}

void IgnoreSigpipe() {
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace vmcat

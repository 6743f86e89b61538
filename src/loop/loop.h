// Loop: a small single-threaded epoll event loop with timers, deferred tasks,
// signals (signalfd) and child-process exit notification (pidfd).
//
// Handlers are plain pointers owned by the caller; a handler must call
// Remove(fd) before it is destroyed. Removal is safe at any time, including
// from inside a callback for the same or another fd: events already fetched
// for a removed registration are dropped (registrations are versioned).
// Nothing here is thread-safe.
#pragma once

#include <signal.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/status.h"

namespace vmcat {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  /// Called with the epoll event bits (EPOLLIN, EPOLLOUT, EPOLLERR, ...).
  virtual void OnIo(int fd, uint32_t events) = 0;
};

using Clock = std::chrono::steady_clock;

class Loop {
 public:
  using Task = std::function<void()>;
  using TimerId = uint64_t;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  /// Registers `fd`. Fails with sys_errno() == EPERM for fds epoll cannot
  /// watch (regular files, /dev/null); callers treat those as always ready.
  Status Add(int fd, uint32_t events, IoHandler* handler);
  Status Modify(int fd, uint32_t events);
  /// Unregisters `fd` (no-op when not registered). Call before closing it.
  void Remove(int fd);

  /// Runs `task` once, after the events of the current iteration.
  void Post(Task task);
  /// Runs `task` once after `delay`. Returns an id for CancelTimer.
  TimerId AddTimer(Clock::duration delay, Task task);
  /// Cancels a pending timer; unknown or fired ids are ignored.
  void CancelTimer(TimerId id);

  /// Calls `on_signal` each time `signo` arrives. The signal is blocked for the
  /// whole process so that it is only delivered here; children get the
  /// original mask back via RestoreSignalsForChild().
  Status WatchSignal(int signo, std::function<void(int)> on_signal);
  /// Stops watching `signo` and unblocks it.
  void UnwatchSignal(int signo);

  /// Calls `on_exit(wait_status)` once when child `pid` ends, and reaps it.
  Status WatchChild(pid_t pid, std::function<void(int)> on_exit);

  /// After an iteration that handled I/O, keep polling (epoll_wait with no
  /// timeout, yielding the CPU to any other runnable task between polls) for
  /// up to `window` before sleeping: an answer that comes back within it is
  /// handled without a wake-up, which costs tens of µs between the CPUs of a
  /// VM. Zero (the default) sleeps at once. An idle loop never polls.
  void set_poll_before_sleep(std::chrono::microseconds window) { poll_window_ = window; }

  /// Runs until Stop() is called. Returns an error only if epoll fails.
  Status Run();
  void Stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

  /// Number of live fd registrations, timers and posted tasks (for tests).
 private:
  struct Registration {
    IoHandler* handler = nullptr;
    uint32_t generation = 0;
  };
  struct Timer {
    Clock::time_point deadline;
    Task task;
  };
  class SignalSource;
  class ChildSource;

  void RunTimers();
  void RunPosted();
  int NextTimeoutMs() const;
  int PollBriefly(epoll_event* events, int max_events);

  UniqueFd epoll_;
  std::vector<Registration> registrations_;  // indexed by fd
  size_t live_registrations_ = 0;
  std::vector<Task> posted_;
  std::set<std::pair<Clock::time_point, TimerId>> timer_order_;
  std::unordered_map<TimerId, Timer> timers_;
  TimerId next_timer_id_ = 1;
  bool stopped_ = false;
  std::chrono::microseconds poll_window_{0};
  SignalSource* signals_ = nullptr;
  std::map<int, ChildSource*> children_;  // pidfd -> source
  friend class SignalSource;
  friend class ChildSource;
};

/// Sets every signal's disposition back to default and unblocks all signals:
/// call in a freshly forked child before exec.
void RestoreSignalsForChild();

/// Ignores SIGPIPE for this process (writes then fail with EPIPE).
void IgnoreSigpipe();

}  // namespace vmcat

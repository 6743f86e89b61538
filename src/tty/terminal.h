// Terminal settings: applying socat-style termios options, and restoring the
// original settings on every exit path (crash signals included, for file
// status flags too). Also what a relay needs to know about the program on the
// other side of a pseudo-terminal before it sends that program an EOF.
#pragma once

#include <sys/types.h>
#include <termios.h>

#include <memory>
#include <optional>
#include <string>

#include "address/options.h"
#include "base/fd.h"
#include "base/status.h"

namespace vmcat {

/// Pure: returns `base` changed as the options ask (sane, raw, rawer, then
/// the individual flags in a fixed order).
struct termios ApplyTermiosSettings(const struct termios& base, const TermiosSettings& s);

/// A new pseudo-terminal: its master (close-on-exec, not our controlling
/// terminal), granted and unlocked; its slave, opened the same way; and the
/// slave's path.
struct PtyPair {
  UniqueFd master;
  UniqueFd slave;
  std::string slave_path;
};
Result<PtyPair> OpenPtyPair();

/// Changes the terminal `fd` as `settings` ask, now (no restore: for a
/// terminal of our own making, such as a new pty).
Status SetTermios(int fd, const TermiosSettings& settings);

/// Saves a terminal's settings, applies new ones, and restores the saved
/// settings when destroyed. Holds its own duplicate of the descriptor, so the
/// caller may close the original first. While any guard is alive, a crash
/// signal (SIGSEGV, SIGABRT, ...) also restores the terminal before the
/// process dies.
class TerminalGuard {
 public:
  /// Fails if `fd` is not a terminal or tcsetattr fails.
  static Result<std::unique_ptr<TerminalGuard>> Apply(int fd, const TermiosSettings& settings);
  ~TerminalGuard();
  TerminalGuard(const TerminalGuard&) = delete;
  TerminalGuard& operator=(const TerminalGuard&) = delete;

  /// Restores now (idempotent).
  void Restore();

 private:
  TerminalGuard(UniqueFd fd, const struct termios& saved);
  UniqueFd fd_;
  struct termios saved_;
  int slot_ = -1;
  bool restored_ = false;
};

/// Makes a crash signal (SIGSEGV, SIGABRT, ...) restore `flags` on `fd` with
/// F_SETFL before the process dies, as it restores terminal settings: an
/// inherited descriptor left non-blocking breaks the next program that shares
/// it (the user's shell on a terminal). Returns a slot for ForgetCrashFlags,
/// or -1 when the fixed table is full.
int RestoreFlagsOnCrash(int fd, int flags);
/// Drops a slot from RestoreFlagsOnCrash (ignores -1).
void ForgetCrashFlags(int slot);

/// Bytes written to the pty master `master_fd` that the program on its slave
/// side has not read yet. nullopt when this cannot be known.
std::optional<int> PtyUnreadInput(int master_fd);

/// Whether a program on the pty master `master_fd` sleeps waiting for
/// terminal input: a process of the terminal's foreground process group (or,
/// when the terminal controls no session, `child` or one of its descendants)
/// blocked in read() on the terminal, or in select/poll/epoll while holding
/// it open. Only then is the terminal mode the one in which that program will
/// read what is written next. True when this cannot be known (no /proc,
/// another user's processes), so that callers fall back to not waiting.
bool PtyProgramAwaitsInput(int master_fd, pid_t child);

}  // namespace vmcat

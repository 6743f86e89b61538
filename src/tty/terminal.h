// Terminal settings: applying socat-style termios options, and restoring the
// original settings on every exit path.
#pragma once

#include <termios.h>

#include <memory>

#include "address/options.h"
#include "base/fd.h"
#include "base/status.h"

namespace vmcat {

/// Pure: returns `base` changed as the options ask (sane, raw, rawer, then
/// the individual flags in a fixed order).
struct termios ApplyTermiosSettings(const struct termios& base, const TermiosSettings& s);

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

}  // namespace vmcat

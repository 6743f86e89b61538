// UniqueFd: sole owner of a file descriptor, closed on destruction.
#pragma once

#include <utility>

#include "base/status.h"

namespace vmcat {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  /// Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  /// Closes the current descriptor (if any) and takes ownership of `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

/// Sets or clears O_NONBLOCK.
Status SetNonBlocking(int fd, bool on);
/// Sets FD_CLOEXEC.
Status SetCloseOnExec(int fd, bool on);

/// A pipe with both ends owned.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};
/// Creates a pipe with O_CLOEXEC and the given extra flags (e.g. O_NONBLOCK).
Result<Pipe> MakePipe(int flags);

/// Writes all of `data` to a blocking or non-blocking fd, waiting with poll()
/// when the fd is full. Used for small control messages, not for relaying.
Status WriteAll(int fd, const void* data, size_t size);

}  // namespace vmcat

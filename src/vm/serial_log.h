// The serial console's memory: a size-bounded, rotated log file that keeps
// everything the guest printed, and a ring of the most recent bytes that a
// newly attached viewer sees first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/status.h"

namespace vmcat {

/// Appends to `base`; when it reaches `max_size` bytes, renames base -> base.1
/// -> base.2 ... keeping `files` files in all. Never drops a byte silently:
/// a failed write is reported (and retried on the next append).
class RotatingLog {
 public:
  RotatingLog(std::string base, uint64_t max_size, unsigned files)
      : base_(std::move(base)), max_size_(max_size), files_(files) {}
  Status Open();
  Status Append(std::string_view data);
  /// Total bytes ever appended (not reduced by rotation).
  uint64_t total() const { return total_; }
  /// Everything still on disk, oldest first.
  static Result<std::string> ReadAll(const std::string& base, unsigned files);

 private:
  Status Rotate();
  std::string base_;
  uint64_t max_size_;
  unsigned files_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  uint64_t total_ = 0;
};

/// The last `capacity` bytes of a stream.
class ByteRing {
 public:
  explicit ByteRing(size_t capacity) : capacity_(capacity) {}
  void Append(std::string_view data);
  /// The last bytes, at most `max_bytes`, starting at a line boundary when
  /// one exists in range (so a viewer does not start mid-line).
  std::string Tail(size_t max_bytes) const;
  size_t size() const { return data_.size(); }

 private:
  size_t capacity_;
  std::string data_;
};

}  // namespace vmcat

// Status and Result<T>: cheap error values used instead of exceptions.
//
// A Status is either OK or carries a human-readable message that names what
// failed and why ("connect /run/x.sock: No such file or directory"). Callers
// add context on the way up with Status::Prefix(). A Result<T> holds either a
// T or a non-OK Status. Both are movable values; neither is thread-safe to
// mutate concurrently.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vmcat {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), 0); }
  /// An error from a failed system call: "<what>: <strerror(err)>".
  static Status Errno(std::string_view what, int err);
  /// An error with a message of its own that still carries an errno value.
  static Status ErrorWithErrno(std::string message, int err) {
    return Status(std::move(message), err);
  }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }
  /// errno value when built by Errno(), else 0.
  int sys_errno() const { return errno_; }

  /// Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status Prefix(std::string_view context) const;

 private:
  Status(std::string message, int err) : failed_(true), errno_(err), message_(std::move(message)) {}
  bool failed_ = false;
  int errno_ = 0;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*value_); }

 private:
  std::optional<T> value_;
  Status status_;
};

/// Returns early with the error of a Status-valued expression.
#define VMCAT_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::vmcat::Status status_macro_ = (expr);        \
    if (!status_macro_.ok()) return status_macro_; \
  } while (0)

#define VMCAT_CONCAT_INNER_(a, b) a##b
#define VMCAT_CONCAT_(a, b) VMCAT_CONCAT_INNER_(a, b)
/// `VMCAT_ASSIGN_OR_RETURN(auto x, F())` binds x to F()'s value or returns its error.
#define VMCAT_ASSIGN_OR_RETURN(lhs, expr)                   \
  auto VMCAT_CONCAT_(result_macro_, __LINE__) = (expr);     \
  if (!VMCAT_CONCAT_(result_macro_, __LINE__).ok())         \
    return VMCAT_CONCAT_(result_macro_, __LINE__).status(); \
  lhs = std::move(VMCAT_CONCAT_(result_macro_, __LINE__)).value()

/// Ends the process with a message: for broken invariants only, never for bad input.
[[noreturn]] void Fatal(std::string_view message);

}  // namespace vmcat

#include "base/status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vmcat {

Status Status::Errno(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  return Status(std::move(message), err);
}

Status Status::Prefix(std::string_view context) const {
  if (ok()) return *this;
  Status copy = *this;
  copy.message_ = std::string(context) + ": " + message_;
  return copy;
}

void Fatal(std::string_view message) {
  std::fprintf(stderr, "vmcat: internal error: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::abort();
}

}  // namespace vmcat

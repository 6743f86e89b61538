#include "endpoint/fifo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/log.h"
#include "base/strings.h"
#include "endpoint/open.h"

namespace vmcat {

namespace {

const char* FileTypeName(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a FIFO";
}

}  // namespace

FifoOpener::FifoOpener(const SingleAddress& address, std::string name, Access access)
    : address_(address), name_(std::move(name)), path_(address.params.at(0)), access_(access) {}

FifoOpener::~FifoOpener() {
  if (owns_path_) unlink(path_.c_str());
}

Status FifoOpener::Prepare() {
  const AddressOptions& o = address_.options;
  if (o.unlink_early) unlink(path_.c_str());
  if (mkfifo(path_.c_str(), o.mode.value_or(0666)) == 0) {
    // Ours: removed when the endpoint goes (socat's unlink-close, default on).
    owns_path_ = o.unlink_close.value_or(true);
    LogInfo(name_ + ": created named pipe " + Quote(path_));
    // As socat: mode= exactly (not masked by the umask), user= and group=,
    // only on a FIFO we created.
    return ApplyOwnership(path_, o);
  }
  if (errno != EEXIST) return Status::Errno("mkfifo " + Quote(path_), errno);
  struct stat st;
  if (stat(path_.c_str(), &st) < 0) return Status::Errno("stat " + Quote(path_), errno);
  if (!S_ISFIFO(st.st_mode)) {
    return Status::Error(Quote(path_) + " exists and is " + FileTypeName(st.st_mode) +
                         ", not a named pipe (remove it, or add unlink-early)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Endpoint>> FifoOpener::TryOpen() {
  if (!prepared_) {
    VMCAT_RETURN_IF_ERROR(Prepare());
    prepared_ = true;
  }
  const AddressOptions& o = address_.options;
  Access access = o.rdonly ? Access::kRead : o.wronly ? Access::kWrite : access_;
  UniqueFd rfd, wfd;
  if (access != Access::kWrite) {
    rfd.reset(open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!rfd.valid()) return Status::Errno("open " + Quote(path_) + " for reading", errno);
  }
  if (access != Access::kRead) {
    // Never blocks; with our own reader above it cannot fail with ENXIO.
    wfd.reset(open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!wfd.valid()) {
      int err = errno;
      if (err == ENXIO && access == Access::kWrite) {
        if (!waiting_logged_) LogInfo(name_ + ": waiting for a reader of " + Quote(path_));
        waiting_logged_ = true;
        return std::unique_ptr<Endpoint>();
      }
      return Status::Errno("open " + Quote(path_) + " for writing", err);
    }
  }
  auto e = std::make_unique<Endpoint>(name_, std::move(rfd), FdKind::kPipe, std::move(wfd),
                                      FdKind::kPipe);
  if (owns_path_) e->set_unlink_on_close(path_);
  owns_path_ = false;
  return e;
}

std::chrono::milliseconds FifoOpener::RetryDelay() {
  int ms = std::min(100, 10 << std::min(retries_, 4));
  retries_++;
  return std::chrono::milliseconds(ms);
}

}  // namespace vmcat

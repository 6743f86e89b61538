#include "vm/serial_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace vmcat {

Status RotatingLog::Open() {
  fd_.reset(open(base_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd_.valid()) return Status::Errno("open " + base_, errno);
  struct stat st;
  size_ = fstat(fd_.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return Status::Ok();
}

Status RotatingLog::Rotate() {
  for (unsigned n = files_ - 1; n >= 1; --n) {
    std::string from = n == 1 ? base_ : base_ + "." + std::to_string(n - 1);
    std::string to = base_ + "." + std::to_string(n);
    if (rename(from.c_str(), to.c_str()) < 0 && errno != ENOENT) {
      return Status::Errno("rename " + from, errno);
    }
  }
  if (files_ <= 1) {
    if (ftruncate(fd_.get(), 0) < 0) return Status::Errno("truncate " + base_, errno);
    size_ = 0;
    return Status::Ok();
  }
  return Open();
}

Status RotatingLog::Append(std::string_view data) {
  if (!fd_.valid()) VMCAT_RETURN_IF_ERROR(Open());
  while (!data.empty()) {
    if (size_ >= max_size_) VMCAT_RETURN_IF_ERROR(Rotate());
    size_t room = static_cast<size_t>(max_size_ - size_);
    // Rotate at a line end when one is near, so lines are not split.
    size_t n = data.size() <= room ? data.size() : room;
    if (n < data.size()) {
      // Rotate at a line end, so that no file starts mid-line; split a line
      // only when it alone is longer than a whole file.
      size_t nl = data.substr(0, n).rfind('\n');
      if (nl != std::string_view::npos) {
        n = nl + 1;
      } else if (size_ > 0) {
        VMCAT_RETURN_IF_ERROR(Rotate());
        continue;
      }
    }
    VMCAT_RETURN_IF_ERROR(WriteAll(fd_.get(), data.data(), n).Prefix("write " + base_));
    size_ += n;
    total_ += n;
    data.remove_prefix(n);
  }
  return Status::Ok();
}

Result<std::string> RotatingLog::ReadAll(const std::string& base, unsigned files) {
  std::string out;
  bool any = false;
  for (unsigned n = files; n-- > 0;) {
    std::string path = n == 0 ? base : base + "." + std::to_string(n);
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    any = true;
    std::stringstream ss;
    ss << in.rdbuf();
    out += ss.str();
  }
  if (!any) return Status::Errno("open " + base, ENOENT);
  return out;
}

void ByteRing::Append(std::string_view data) {
  if (data.size() >= capacity_) {
    data_.assign(data.substr(data.size() - capacity_));
    return;
  }
  size_t overflow =
      data_.size() + data.size() > capacity_ ? data_.size() + data.size() - capacity_ : 0;
  // Trim in bulk, not per append, to keep appends cheap.
  if (overflow > 0) data_.erase(0, std::max(overflow, capacity_ / 4));
  data_.append(data);
}

std::string ByteRing::Tail(size_t max_bytes) const {
  if (data_.size() <= max_bytes) return data_;
  size_t start = data_.size() - max_bytes;
  size_t nl = data_.find('\n', start);
  if (nl != std::string::npos && nl + 1 < data_.size()) start = nl + 1;
  return data_.substr(start);
}

}  // namespace vmcat

#include "agent/copy_sender.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>

namespace vmcat {

namespace {

constexpr size_t kMaxWarnings = 1000;

const char* KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "an unknown kind of file";
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::Errno(path + ": open directory", errno);
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    close(fd);
    return Status::Errno(path + ": open directory", err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  int err = errno;
  closedir(d);
  if (err != 0) return Status::Errno(path + ": read directory", err);
  // A stable order: the same tree always gives the same stream.
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<std::string> SourceName(const std::string& path) {
  std::string base = BaseName(path);
  if (base == "." || base == "..") {
    char* real = realpath(path.c_str(), nullptr);
    if (real == nullptr) return Status::Errno(path, errno);
    base = BaseName(real);
    free(real);
  }
  if (base.empty()) {
    return Status::ErrorWithErrno(path + ": cannot copy the root directory itself", EINVAL);
  }
  return base;
}

CopySender::CopySender(std::vector<std::string> sources, CopySend send)
    : sources_(std::move(sources)), send_(std::move(send)) {}

Status CopySender::Start() {
  std::set<std::string> names;
  for (const std::string& src : sources_) {
    struct stat st;
    if (lstat(src.c_str(), &st) < 0) return Status::Errno(src, errno);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
      return Status::ErrorWithErrno(
          src + ": cannot copy " + KindOf(st.st_mode) + " (only files, directories and symlinks)",
          EINVAL);
    }
    VMCAT_ASSIGN_OR_RETURN(std::string name, SourceName(src));
    if (!names.insert(name).second) {
      return Status::ErrorWithErrno(src + ": another source is also named " + name, EEXIST);
    }
    top_names_.push_back(name);
  }
  return Status::Ok();
}

void CopySender::Warn(std::string message) {
  if (warnings_.size() < kMaxWarnings) warnings_.push_back(std::move(message));
}

Result<std::optional<CopySender::Pending>> CopySender::Describe(const std::string& path,
                                                                const std::string& name, bool top) {
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) return Status::Errno(path, errno);
  Status valid = ValidateEntryName(name);
  if (!valid.ok()) return Status::ErrorWithErrno(path + ": path too long to copy", ENAMETOOLONG);
  Pending p;
  p.path = path;
  p.entry.name = name;
  if (S_ISREG(st.st_mode)) {
    // O_NONBLOCK: should a FIFO take the file's place meanwhile, do not hang.
    p.file.reset(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!p.file.valid()) return Status::Errno(path + ": open", errno);
    if (fstat(p.file.get(), &st) < 0) return Status::Errno(path + ": stat", errno);
    if (!S_ISREG(st.st_mode)) {
      return Status::ErrorWithErrno(path + ": replaced while being copied", EAGAIN);
    }
    p.entry.type = EntryType::kFile;
    p.entry.size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISDIR(st.st_mode)) {
    p.entry.type = EntryType::kDir;
    VMCAT_ASSIGN_OR_RETURN(p.children, ListDir(path));
  } else if (S_ISLNK(st.st_mode)) {
    p.entry.type = EntryType::kSymlink;
    char buf[PATH_MAX];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    if (n < 0) return Status::Errno(path + ": readlink", errno);
    if (n == 0 || static_cast<size_t>(n) >= sizeof buf) {
      return Status::ErrorWithErrno(path + ": unusable symlink target", ENAMETOOLONG);
    }
    p.entry.target.assign(buf, static_cast<size_t>(n));
  } else if (top) {
    return Status::ErrorWithErrno(
        path + ": cannot copy " + KindOf(st.st_mode) + " (only files, directories and symlinks)",
        EINVAL);
  } else {
    Warn(path + ": skipped " + KindOf(st.st_mode) + " (only files, directories and symlinks)");
    return std::optional<Pending>();
  }
  p.entry.mode = st.st_mode & 07777;
  p.entry.mtime = st.st_mtim.tv_sec;
  p.entry.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  return std::optional<Pending>(std::move(p));
}

Result<std::optional<CopySender::Pending>> CopySender::NextEntry() {
  while (true) {
    Result<std::optional<Pending>> next = std::optional<Pending>();
    if (!stack_.empty()) {
      Dir& d = stack_.back();
      if (d.next == d.children.size()) {
        stack_.pop_back();
        continue;
      }
      const std::string& child = d.children[d.next++];
      next = Describe(JoinPath(d.path, child), d.name + "/" + child, /*top=*/false);
    } else if (next_source_ < sources_.size()) {
      size_t i = next_source_++;
      next = Describe(sources_[i], top_names_[i], /*top=*/true);
    } else {
      return std::optional<Pending>();  // the end of the stream
    }
    if (!next.ok() || next->has_value()) return next;
    // Skipped: go on with the next one.
  }
}

Status CopySender::SendData() {
  char buf[kMaxDataChunk];
  while (remaining_ > 0) {
    if (window_ == 0) return Status::Ok();
    size_t want = static_cast<size_t>(std::min<uint64_t>({sizeof buf, window_, remaining_}));
    ssize_t n = read(file_.get(), buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errno(file_path_ + ": read", errno);
    if (n == 0) {
      return Status::ErrorWithErrno(file_path_ + ": file shrank while being copied", EIO);
    }
    std::string_view chunk(buf, static_cast<size_t>(n));
    sha_.Update(chunk);
    send_(MessageType::kData, chunk);
    window_ -= static_cast<uint64_t>(n);
    remaining_ -= static_cast<uint64_t>(n);
    bytes_ += static_cast<uint64_t>(n);
  }
  if (!end_payload_) {
    char probe;
    if (read(file_.get(), &probe, 1) > 0) {
      Warn(file_path_ + ": grew while being copied; copied the size it had at the start");
    }
    end_payload_ = Json{{"sha256", sha_.HexDigest()}}.dump();
  }
  uint32_t cost = CopyFrameCost(MessageType::kEntryEnd, end_payload_->size());
  if (window_ < cost) return Status::Ok();
  send_(MessageType::kEntryEnd, *end_payload_);
  window_ -= cost;
  end_payload_.reset();
  file_.reset();
  return Status::Ok();
}

Status CopySender::Pump() {
  while (!done_) {
    if (file_.valid()) {
      VMCAT_RETURN_IF_ERROR(SendData());
      if (file_.valid()) return Status::Ok();  // waiting for credit
      continue;
    }
    if (!pending_) {
      VMCAT_ASSIGN_OR_RETURN(std::optional<Pending> next, NextEntry());
      if (!next) {
        Json end = Json::object();
        if (!warnings_.empty()) end["warnings"] = warnings_;
        send_(MessageType::kCopyEnd, end.dump());
        done_ = true;
        return Status::Ok();
      }
      pending_ = std::move(next);
    }
    std::string payload = pending_->entry.ToJson().dump();
    uint32_t cost = CopyFrameCost(MessageType::kEntry, payload.size());
    if (window_ < cost) return Status::Ok();
    send_(MessageType::kEntry, payload);
    window_ -= cost;
    if (pending_->entry.type == EntryType::kDir) {
      stack_.push_back(Dir{pending_->path, pending_->entry.name, std::move(pending_->children)});
    } else if (pending_->entry.type == EntryType::kFile) {
      file_ = std::move(pending_->file);
      file_path_ = pending_->path;
      remaining_ = pending_->entry.size;
      sha_ = Sha256();
    }
    pending_.reset();
  }
  return Status::Ok();
}

}  // namespace vmcat

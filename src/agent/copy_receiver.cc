#include "agent/copy_receiver.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/strings.h"

namespace vmcat {

namespace {

// Leaves room for ".", ".vmcat-XXXXXX" within NAME_MAX (255).
constexpr size_t kTempStemMax = 200;

std::string TempTemplate(const std::string& path) {
  std::string base = BaseName(path);
  if (base.size() > kTempStemMax) base.resize(kTempStemMax);
  return JoinPath(DirName(path), "." + base + ".vmcat-XXXXXX");
}

// A fresh temporary name for a symlink (mkstemp only makes files).
std::string TempSymlinkName(const std::string& path) {
  std::string name = TempTemplate(path);
  uint8_t random[6] = {};
  if (getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    static unsigned counter = 0;
    for (uint8_t& r : random)
      r = static_cast<uint8_t>(getpid() + ++counter);
  }
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (size_t i = 0; i < sizeof random; ++i)
    name[name.size() - 6 + i] = kAlphabet[random[i] % 36];
  return name;
}

timespec MakeTime(int64_t sec, uint32_t nsec) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(sec);
  t.tv_nsec = static_cast<long>(nsec);
  return t;
}

}  // namespace

Json CopyTotals::ToJson() const {
  return Json{{"files", files}, {"dirs", dirs}, {"symlinks", symlinks}, {"bytes", bytes}};
}

CopyReceiver::CopyReceiver(std::string dest, size_t sources, CopySend send, Options options)
    : dest_(std::move(dest)), sources_(sources), send_(std::move(send)), options_(options) {}

CopyReceiver::~CopyReceiver() {
  Abort();
}

uint32_t CopyReceiver::ModeBits(uint32_t mode) const {
  return options_.keep_setid ? (mode & 07777) : (mode & 01777);
}

Status CopyReceiver::Start() {
  DestState state;
  struct stat st;
  if (stat(dest_.c_str(), &st) == 0) {
    state.exists = true;
    state.is_dir = S_ISDIR(st.st_mode);
  } else if (errno == ENOENT && lstat(dest_.c_str(), &st) == 0) {
    state.exists = true;  // a dangling symlink: replaced, not followed
  } else if (errno != ENOENT) {
    return Status::Errno(dest_, errno);
  }
  VMCAT_ASSIGN_OR_RETURN(Placement placement, Placement::Resolve(dest_, state, sources_));
  if (!placement.into_dir()) {
    const std::string& parent = placement.parent();
    if (stat(parent.c_str(), &st) < 0) return Status::Errno(parent, errno);
    if (!S_ISDIR(st.st_mode)) return Status::ErrorWithErrno(parent + ": Not a directory", ENOTDIR);
  }
  placement_ = std::move(placement);
  return Status::Ok();
}

Status CopyReceiver::OnFrame(MessageType type, std::string_view payload) {
  if (!placement_ || done_ || aborted_) {
    return Status::ErrorWithErrno(std::string(ToString(type)) + " for a copy that is over", EPROTO);
  }
  VMCAT_ASSIGN_OR_RETURN(CopyStreamReader::Event ev, reader_.Next(type, payload));
  switch (ev.kind) {
    case CopyStreamReader::Event::Kind::kEntry:
      VMCAT_RETURN_IF_ERROR(OnEntry(ev.entry));
      break;
    case CopyStreamReader::Event::Kind::kData:
      VMCAT_RETURN_IF_ERROR(Write(ev.data));
      break;
    case CopyStreamReader::Event::Kind::kEntryEnd:
      VMCAT_RETURN_IF_ERROR(CommitFile(ev.sha256));
      break;
    case CopyStreamReader::Event::Kind::kEnd:
      warnings_ = std::move(ev.warnings);
      return Complete();
  }
  Credit(CopyFrameCost(type, payload.size()));
  return Status::Ok();
}

void CopyReceiver::Credit(uint32_t cost) {
  pending_credit_ += cost;
  if (pending_credit_ < kCopyCreditBatch) return;
  send_(MessageType::kWindow, EncodeWindowPayload(pending_credit_));
  pending_credit_ = 0;
}

Status CopyReceiver::OnEntry(const CopyEntry& entry) {
  const std::vector<std::string>& expected = options_.expected_names;
  if (!expected.empty() && entry.name.find('/') == std::string::npos &&
      std::find(expected.begin(), expected.end(), entry.name) == expected.end()) {
    return Status::ErrorWithErrno("copy stream: entry " + Quote(entry.name) + " was not asked for",
                                  EPROTO);
  }
  VMCAT_ASSIGN_OR_RETURN(std::string path, placement_->PathFor(entry.name));
  struct stat st;
  bool exists = lstat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return Status::Errno(path, errno);
  if (entry.type == EntryType::kDir) return MakeDir(path, entry);
  if (exists && S_ISDIR(st.st_mode)) {
    return Status::ErrorWithErrno(path + ": cannot replace a directory with a " +
                                      (entry.type == EntryType::kFile ? "file" : "symlink"),
                                  EISDIR);
  }
  if (entry.type == EntryType::kSymlink) return MakeSymlink(path, entry, exists);
  return OpenTemp(path, entry, exists);
}

Status CopyReceiver::MakeDir(const std::string& path, const CopyEntry& entry) {
  // 0700 until the end: a read-only directory could not be filled.
  if (mkdir(path.c_str(), 0700) == 0) {
    created_.emplace_back(path, true);
    dirs_.push_back(CreatedDir{path, ModeBits(entry.mode), entry.mtime, entry.mtime_nsec});
    dirty_dirs_.insert(DirName(path));
  } else if (errno == EEXIST) {
    // Merge into an existing directory (or a symlink to one), as cp -r does.
    struct stat st;
    if (stat(path.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
      return Status::ErrorWithErrno(path + ": cannot replace a non-directory with a directory",
                                    ENOTDIR);
    }
  } else {
    return Status::Errno(path + ": mkdir", errno);
  }
  totals_.dirs++;
  return Status::Ok();
}

Status CopyReceiver::MakeSymlink(const std::string& path, const CopyEntry& entry, bool replaces) {
  std::string temp;
  for (int attempt = 0;; ++attempt) {
    temp = TempSymlinkName(path);
    if (symlink(entry.target.c_str(), temp.c_str()) == 0) break;
    if (errno != EEXIST || attempt == 100) return Status::Errno(path + ": symlink", errno);
  }
  timespec times[2] = {MakeTime(entry.mtime, entry.mtime_nsec),
                       MakeTime(entry.mtime, entry.mtime_nsec)};
  (void)utimensat(AT_FDCWD, temp.c_str(), times, AT_SYMLINK_NOFOLLOW);  // best effort
  if (rename(temp.c_str(), path.c_str()) < 0) {
    int err = errno;
    unlink(temp.c_str());
    return Status::Errno(path + ": rename", err);
  }
  if (!replaces) created_.emplace_back(path, false);
  dirty_dirs_.insert(DirName(path));
  totals_.symlinks++;
  return Status::Ok();
}

Status CopyReceiver::OpenTemp(const std::string& path, const CopyEntry& entry, bool replaces) {
  auto f = std::make_unique<OpenFile>();
  f->temp_path = TempTemplate(path);
  f->fd.reset(mkostemp(f->temp_path.data(), O_CLOEXEC));
  if (!f->fd.valid()) return Status::Errno(path + ": create", errno);
  f->path = path;
  f->replaces = replaces;
  f->entry = entry;
  file_ = std::move(f);
  return Status::Ok();
}

Status CopyReceiver::Write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(file_->fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errno(file_->path + ": write", errno);
    // Hash what reached the file, not what arrived: the two must agree.
    file_->sha.Update(data.substr(0, static_cast<size_t>(n)));
    file_->written += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status CopyReceiver::CommitFile(const std::string& sha256) {
  OpenFile& f = *file_;
  const std::string& path = f.path;
  std::string ours = f.sha.HexDigest();
  if (ours != sha256) {
    return Status::ErrorWithErrno(
        path + ": checksum mismatch (sender's sha256 " + sha256 + ", written " + ours + ")", EIO);
  }
  if (fsync(f.fd.get()) < 0) return Status::Errno(path + ": fsync", errno);
  struct stat st;
  if (fstat(f.fd.get(), &st) < 0) return Status::Errno(path + ": stat", errno);
  if (static_cast<uint64_t>(st.st_size) != f.entry.size || f.written != f.entry.size) {
    return Status::ErrorWithErrno(path + ": wrote " + std::to_string(st.st_size) +
                                      " bytes, expected " + std::to_string(f.entry.size),
                                  EIO);
  }
  if (fchmod(f.fd.get(), ModeBits(f.entry.mode)) < 0) {
    return Status::Errno(path + ": chmod", errno);
  }
  timespec times[2] = {MakeTime(f.entry.mtime, f.entry.mtime_nsec),
                       MakeTime(f.entry.mtime, f.entry.mtime_nsec)};
  if (futimens(f.fd.get(), times) < 0) return Status::Errno(path + ": set times", errno);
  int fd = f.fd.release();
  if (close(fd) < 0) return Status::Errno(path + ": close", errno);
  if (rename(f.temp_path.c_str(), path.c_str()) < 0) return Status::Errno(path + ": rename", errno);
  if (!f.replaces) created_.emplace_back(path, false);
  dirty_dirs_.insert(DirName(path));
  totals_.files++;
  totals_.bytes += f.entry.size;
  file_.reset();
  return Status::Ok();
}

Status CopyReceiver::Complete() {
  // Deepest first: a parent's mtime is set after its children changed it.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    if (chmod(it->path.c_str(), it->mode) < 0) return Status::Errno(it->path + ": chmod", errno);
    timespec times[2] = {MakeTime(it->mtime, it->mtime_nsec), MakeTime(it->mtime, it->mtime_nsec)};
    (void)utimensat(AT_FDCWD, it->path.c_str(), times, 0);  // best effort
  }
  // The renames are durable only once their directories are.
  for (const std::string& dir : dirty_dirs_) {
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.valid() && fsync(fd.get()) < 0 && errno != EINVAL) {
      return Status::Errno(dir + ": fsync", errno);
    }
  }
  done_ = true;
  created_.clear();
  send_(MessageType::kCopyEnd, totals_.ToJson().dump());
  return Status::Ok();
}

void CopyReceiver::Abort() {
  if (done_ || aborted_) return;
  aborted_ = true;
  if (file_) {
    file_->fd.reset();
    unlink(file_->temp_path.c_str());
    file_.reset();
  }
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    if (it->second) {
      rmdir(it->first.c_str());
    } else {
      unlink(it->first.c_str());
    }
  }
  created_.clear();
}

}  // namespace vmcat

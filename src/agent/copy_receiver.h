// CopyReceiver: the receiving end of `vmcat cp`, the same in the agent (copy
// into the guest) and on the host (copy out of it).
//
// Each file is written to a temporary name beside its final one
// (".NAME.vmcat-XXXXXX"), hashed as it is written, and only after its size
// and SHA-256 match what the sender announced, it is fsynced, given its mode
// and mtime and renamed into place. Directories are created 0700 and get
// their own mode once the whole tree is in. Credit goes back to the sender
// only for bytes already written, so the sender is paced by the disk.
//
// A failed or abandoned copy (Abort, or destruction before COPY_END) removes
// the temporary file and everything the copy created; files it replaced
// stay replaced, each by a complete, verified copy. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/copy_stream.h"
#include "base/fd.h"
#include "base/sha256.h"

namespace vmcat {

struct CopyTotals {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t bytes = 0;
  Json ToJson() const;
};

class CopyReceiver {
 public:
  struct Options {
    /// Keep setuid/setgid bits. Off by default: the files are created by us
    /// (often root), so a peer could otherwise plant a setuid-root program.
    bool keep_setid = false;
    /// When not empty, the only top-level names accepted: the base names of
    /// the paths we asked for, so that a peer asked for "x" cannot write
    /// ".bashrc" into the destination directory instead.
    std::vector<std::string> expected_names;
  };

  /// `dest` is a path on this side; `sources` is how many top-level entries
  /// the sender announced (cp's rule needs it).
  CopyReceiver(std::string dest, size_t sources, CopySend send, Options options);
  CopyReceiver(std::string dest, size_t sources, CopySend send)
      : CopyReceiver(std::move(dest), sources, std::move(send), Options()) {}
  ~CopyReceiver();
  CopyReceiver(const CopyReceiver&) = delete;
  CopyReceiver& operator=(const CopyReceiver&) = delete;

  /// Looks at the destination and decides where the entries go. Fails, with
  /// the path and the reason, when the copy cannot start (missing parent,
  /// several sources and no directory, ...).
  Status Start();

  /// One frame of the sender's stream (ENTRY, DATA, ENTRY_END, COPY_END).
  /// Sends WINDOW credit as data reaches the disk and, after COPY_END,
  /// COPY_END with the totals. An error means the copy failed: call Abort().
  Status OnFrame(MessageType type, std::string_view payload);

  /// Undoes an unfinished copy (see above). Idempotent; no-op once done().
  void Abort();

  /// Everything is in place and COPY_END was sent.
  bool done() const { return done_; }
  const CopyTotals& totals() const { return totals_; }
  /// What the sender skipped, from its COPY_END.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct OpenFile {
    UniqueFd fd;
    std::string temp_path;
    std::string path;
    bool replaces = false;  // a file was there before
    CopyEntry entry;
    Sha256 sha;
    uint64_t written = 0;
  };
  struct CreatedDir {
    std::string path;
    uint32_t mode;
    int64_t mtime;
    uint32_t mtime_nsec;
  };

  Status OnEntry(const CopyEntry& entry);
  Status MakeDir(const std::string& path, const CopyEntry& entry);
  Status MakeSymlink(const std::string& path, const CopyEntry& entry, bool replaces);
  Status OpenTemp(const std::string& path, const CopyEntry& entry, bool replaces);
  Status Write(std::string_view data);
  Status CommitFile(const std::string& sha256);
  Status Complete();
  void Credit(uint32_t cost);
  uint32_t ModeBits(uint32_t mode) const;

  std::string dest_;
  size_t sources_;
  CopySend send_;
  Options options_;
  std::optional<Placement> placement_;
  CopyStreamReader reader_;
  std::unique_ptr<OpenFile> file_;
  // What to remove on failure, in creation order.
  std::vector<std::pair<std::string, bool>> created_;  // path, is a directory
  std::vector<CreatedDir> dirs_;                       // their final mode and mtime, set at the end
  std::set<std::string> dirty_dirs_;                   // to fsync at the end: renames live there
  uint32_t pending_credit_ = 0;
  CopyTotals totals_;
  std::vector<std::string> warnings_;
  bool done_ = false;
  bool aborted_ = false;
};

}  // namespace vmcat

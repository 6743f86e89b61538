// CopySender: the sending end of `vmcat cp`, the same on the host (copy into
// the guest) and in the agent (copy out of it). It walks the source trees
// without following symlinks and emits the tree stream of copy_stream.h,
// reading each file in chunks as flow-control credit allows and hashing it
// as it goes. It never holds more than one chunk of a file in memory.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/copy_stream.h"
#include "base/fd.h"
#include "base/sha256.h"

namespace vmcat {

class CopySender {
 public:
  /// `sources` are paths on this side; each becomes a top-level entry named
  /// after its last component.
  CopySender(std::vector<std::string> sources, CopySend send);

  /// Checks that every source exists and is a file, directory or symlink,
  /// and that no two share a name. Sends nothing. Errors name the source.
  Status Start();

  /// Sends as much as the credit allows; after the last entry, COPY_END.
  /// An error (unreadable file, a file that shrank while being read) ends
  /// the copy: the caller reports it to the receiver as ERROR.
  Status Pump();
  void AddCredit(uint32_t credit) { window_ += credit; }

  /// COPY_END was sent.
  bool done() const { return done_; }
  /// Entries skipped (FIFOs, sockets, devices inside a tree) and files that
  /// grew while being read; also sent in COPY_END.
  const std::vector<std::string>& warnings() const { return warnings_; }
  uint64_t bytes_sent() const { return bytes_; }

 private:
  struct Dir {
    std::string path;  // on this side
    std::string name;  // in the stream
    std::vector<std::string> children;
    size_t next = 0;
  };
  struct Pending {
    CopyEntry entry;
    std::string path;
    UniqueFd file;                      // opened when described: size and data match
    std::vector<std::string> children;  // directories
  };

  Result<std::optional<Pending>> NextEntry();
  Result<std::optional<Pending>> Describe(const std::string& path, const std::string& name,
                                          bool top);
  Status SendData();
  void Warn(std::string message);

  std::vector<std::string> sources_;
  std::vector<std::string> top_names_;
  CopySend send_;
  uint64_t window_ = kInitialWindow;
  size_t next_source_ = 0;
  std::vector<Dir> stack_;
  std::optional<Pending> pending_;  // described, not yet sent (no credit)
  // The file whose data is being sent.
  UniqueFd file_;
  std::string file_path_;
  uint64_t remaining_ = 0;
  Sha256 sha_;
  std::optional<std::string> end_payload_;  // ENTRY_END waiting for credit
  bool done_ = false;
  uint64_t bytes_ = 0;
  std::vector<std::string> warnings_;
};

/// The name a source gets in the stream: its last component; "." and ".."
/// are resolved first. Fails for "/".
Result<std::string> SourceName(const std::string& path);

}  // namespace vmcat

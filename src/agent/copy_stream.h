// The tree stream of `vmcat cp` (see "Copy" in docs/AGENT_PROTOCOL.md): the
// entry records a sender emits, the checks a receiver applies to them, and
// where each entry lands under the destination. Pure: no system calls.
//
// A sender emits, per entry, in pre-order (a directory before its contents):
//   ENTRY {"name", "type", "mode", "size", "target", "mtime", "mtime_nsec"}
//   DATA...           (files only: exactly "size" bytes)
//   ENTRY_END {"sha256": hex}   (files only)
// and finally COPY_END {"warnings": [...]}. The receiver answers COPY_END
// {"files", "dirs", "symlinks", "bytes"} once everything is on disk, or ERROR.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/protocol.h"
#include "base/status.h"

namespace vmcat {

/// How a copy endpoint emits frames on its session (a link, a SessionOutput).
using CopySend = std::function<void(MessageType type, std::string_view payload)>;

enum class EntryType { kFile, kDir, kSymlink };
const char* ToString(EntryType type);

/// One node of the copied tree as it travels.
struct CopyEntry {
  /// Relative, '/'-separated; its first component is the base name of the
  /// source it came from (the receiver may rename that one, see Placement).
  std::string name;
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;   // permission bits (07777)
  uint64_t size = 0;   // files only
  std::string target;  // symlinks only: the link's contents, never followed
  int64_t mtime = 0;   // seconds since the epoch
  uint32_t mtime_nsec = 0;

  Json ToJson() const;
  /// Parses and validates (name, type, mode range, target).
  static Result<CopyEntry> FromJson(const Json& j);
};

/// Rejects names that could land outside the destination or are ambiguous:
/// empty, absolute, "." or ".." components, empty components ("a//b", "a/"),
/// NUL bytes, components longer than 255 bytes.
Status ValidateEntryName(std::string_view name);

/// "a" for "a/b/c".
std::string_view TopComponent(std::string_view name);

/// The flow-control cost of a frame in a copy: DATA costs its payload, and so
/// do ENTRY and ENTRY_END, so that a tree of many empty files cannot flood the
/// receiver either. Other frames are free.
uint32_t CopyFrameCost(MessageType type, size_t payload_size);

/// The receiver grants credit back in batches of at least this much (or at
/// the end of each file).
inline constexpr uint32_t kCopyCreditBatch = kCreditBatch;

/// Checks a sender's frames against the grammar above: well-formed entries,
/// unique names, each entry's directory sent before it as a directory (so
/// nothing is ever written through a symlink the stream itself created),
/// DATA only inside a file and exactly "size" bytes of it.
class CopyStreamReader {
 public:
  struct Event {
    enum class Kind { kEntry, kData, kEntryEnd, kEnd };
    Kind kind = Kind::kEnd;
    CopyEntry entry;                    // kEntry
    std::string_view data;              // kData: points into the frame
    std::string sha256;                 // kEntryEnd: 64 lowercase hex digits
    std::vector<std::string> warnings;  // kEnd: the sender's skipped entries
  };

  /// Takes one of ENTRY, DATA, ENTRY_END, COPY_END. Any error ends the stream.
  Result<Event> Next(MessageType type, std::string_view payload);
  bool done() const { return state_ == State::kDone; }
  /// The file whose data is being received, if any.
  const CopyEntry* current_file() const { return in_file_ ? &file_ : nullptr; }

 private:
  enum class State { kBetween, kInFile, kDone };
  State state_ = State::kBetween;
  bool in_file_ = false;
  CopyEntry file_;
  uint64_t received_ = 0;
  std::unordered_map<std::string, EntryType> seen_;
};

/// What the receiver found at the destination path before the copy.
struct DestState {
  bool exists = false;
  bool is_dir = false;  // following symlinks, as cp does
};

/// Where the entries go, by cp's rule: into DEST under their own names when
/// DEST is an existing directory, else DEST is the new name of the (single)
/// source.
class Placement {
 public:
  /// `dest` as the user wrote it; `sources` is how many the sender has.
  /// Fails for several sources without a directory to put them in, and for a
  /// "dir/" that does not exist.
  static Result<Placement> Resolve(std::string dest, DestState state, size_t sources);

  /// The path of a (validated) entry. Fails when a renaming copy sees a
  /// second top-level entry.
  Result<std::string> PathFor(std::string_view name);

  bool into_dir() const { return into_dir_; }
  /// The directory that must exist for the copy to start: DEST itself, or
  /// its parent when DEST is the new name.
  const std::string& parent() const { return parent_; }

 private:
  std::string dest_;  // without trailing slashes (except "/")
  std::string parent_;
  bool into_dir_ = false;
  std::optional<std::string> top_;  // renaming: the one top-level name
};

/// Joins with one '/' ("/" + "a" is "/a").
std::string JoinPath(std::string_view dir, std::string_view name);
/// The last component, ignoring trailing slashes ("" for "/").
std::string BaseName(std::string_view path);
/// Everything before the last component ("." when there is none, "/" for
/// "/x").
std::string DirName(std::string_view path);

}  // namespace vmcat

#include "agent/copy_stream.h"

#include <cerrno>

#include "base/strings.h"

namespace vmcat {

namespace {

constexpr size_t kMaxName = 4096;
constexpr size_t kMaxComponent = 255;
constexpr size_t kMaxTarget = 4095;
constexpr size_t kMaxWarnings = 1000;

Status StreamError(const std::string& message) {
  return Status::ErrorWithErrno("copy stream: " + message, EPROTO);
}

// nlohmann's accessors throw on a type mismatch; the peer is not trusted, so
// every field is checked by hand.
std::optional<uint64_t> UnsignedField(const Json& j, const char* key, uint64_t fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    return static_cast<uint64_t>(it->get<int64_t>());
  }
  return std::nullopt;
}

std::optional<std::string> StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<Json> ParseObject(MessageType type, std::string_view payload) {
  if (payload.empty()) return Json::object();
  Json j = Json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return StreamError(std::string(ToString(type)) + " payload is not a JSON object");
  }
  return j;
}

}  // namespace

const char* ToString(EntryType type) {
  switch (type) {
    case EntryType::kFile:
      return "file";
    case EntryType::kDir:
      return "dir";
    case EntryType::kSymlink:
      return "symlink";
  }
  return "unknown";
}

Json CopyEntry::ToJson() const {
  Json j = {{"name", name}, {"type", ToString(type)}, {"mode", mode}};
  if (type == EntryType::kFile) j["size"] = size;
  if (type == EntryType::kSymlink) j["target"] = target;
  j["mtime"] = mtime;
  j["mtime_nsec"] = mtime_nsec;
  return j;
}

Result<CopyEntry> CopyEntry::FromJson(const Json& j) {
  CopyEntry e;
  auto name = StringField(j, "name");
  if (!name) return StreamError("ENTRY: \"name\" must be a string");
  e.name = *name;
  Status valid = ValidateEntryName(e.name);
  if (!valid.ok()) return valid;
  auto type = StringField(j, "type");
  if (type == "file") {
    e.type = EntryType::kFile;
  } else if (type == "dir") {
    e.type = EntryType::kDir;
  } else if (type == "symlink") {
    e.type = EntryType::kSymlink;
  } else {
    return StreamError("ENTRY " + Quote(e.name) + ": unknown type " + Quote(type.value_or("?")));
  }
  auto mode = UnsignedField(j, "mode", 0);
  if (!mode || *mode > 07777) return StreamError("ENTRY " + Quote(e.name) + ": bad \"mode\"");
  e.mode = static_cast<uint32_t>(*mode);
  auto size = UnsignedField(j, "size", 0);
  if (!size || (e.type != EntryType::kFile && *size != 0)) {
    return StreamError("ENTRY " + Quote(e.name) + ": bad \"size\"");
  }
  e.size = *size;
  auto target = StringField(j, "target");
  if (!target) return StreamError("ENTRY " + Quote(e.name) + ": \"target\" must be a string");
  if (e.type == EntryType::kSymlink) {
    if (target->empty() || target->size() > kMaxTarget || target->find('\0') != std::string::npos) {
      return StreamError("ENTRY " + Quote(e.name) + ": bad symlink target");
    }
    e.target = *target;
  } else if (!target->empty()) {
    return StreamError("ENTRY " + Quote(e.name) + ": only symlinks have a \"target\"");
  }
  auto mtime = j.find("mtime");
  if (mtime != j.end() && !mtime->is_null()) {
    if (!mtime->is_number_integer()) return StreamError("ENTRY: bad \"mtime\"");
    e.mtime = mtime->get<int64_t>();
  }
  auto nsec = UnsignedField(j, "mtime_nsec", 0);
  if (!nsec || *nsec >= 1000000000) return StreamError("ENTRY: bad \"mtime_nsec\"");
  e.mtime_nsec = static_cast<uint32_t>(*nsec);
  return e;
}

Status ValidateEntryName(std::string_view name) {
  auto bad = [&](const char* why) {
    return StreamError("entry name " + Quote(name) + " rejected: " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > kMaxName) return bad("too long");
  if (name.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (name.front() == '/') return bad("absolute");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(start, slash - start);
    if (part.empty()) return bad("empty component");
    if (part == "." || part == "..") return bad("\".\" or \"..\" component");
    if (part.size() > kMaxComponent) return bad("component longer than 255 bytes");
    start = slash + 1;
  }
  return Status::Ok();
}

std::string_view TopComponent(std::string_view name) {
  return name.substr(0, name.find('/'));
}

uint32_t CopyFrameCost(MessageType type, size_t payload_size) {
  switch (type) {
    case MessageType::kEntry:
    case MessageType::kData:
    case MessageType::kEntryEnd:
      return static_cast<uint32_t>(payload_size);
    default:
      return 0;
  }
}

Result<CopyStreamReader::Event> CopyStreamReader::Next(MessageType type, std::string_view payload) {
  Event ev;
  if (state_ == State::kDone) {
    return StreamError(std::string(ToString(type)) + " after COPY_END");
  }
  switch (type) {
    case MessageType::kEntry: {
      if (state_ == State::kInFile) {
        return StreamError("ENTRY inside " + Quote(file_.name) + " (ENTRY_END missing)");
      }
      VMCAT_ASSIGN_OR_RETURN(Json j, ParseObject(type, payload));
      VMCAT_ASSIGN_OR_RETURN(ev.entry, CopyEntry::FromJson(j));
      const std::string& name = ev.entry.name;
      if (seen_.count(name)) return StreamError("entry " + Quote(name) + " sent twice");
      size_t slash = name.rfind('/');
      if (slash != std::string::npos) {
        auto parent = seen_.find(name.substr(0, slash));
        if (parent == seen_.end() || parent->second != EntryType::kDir) {
          return StreamError("entry " + Quote(name) + " before its directory");
        }
      }
      seen_.emplace(name, ev.entry.type);
      if (ev.entry.type == EntryType::kFile) {
        state_ = State::kInFile;
        in_file_ = true;
        file_ = ev.entry;
        received_ = 0;
      }
      ev.kind = Event::Kind::kEntry;
      return ev;
    }
    case MessageType::kData:
      if (state_ != State::kInFile) return StreamError("DATA outside a file");
      if (payload.size() > file_.size - received_) {
        return StreamError(Quote(file_.name) + ": more data than the " +
                           std::to_string(file_.size) + " bytes announced");
      }
      received_ += payload.size();
      ev.kind = Event::Kind::kData;
      ev.data = payload;
      return ev;
    case MessageType::kEntryEnd: {
      if (state_ != State::kInFile) return StreamError("ENTRY_END outside a file");
      if (received_ != file_.size) {
        return StreamError(Quote(file_.name) + ": " + std::to_string(file_.size) +
                           " bytes announced, " + std::to_string(received_) + " sent");
      }
      VMCAT_ASSIGN_OR_RETURN(Json j, ParseObject(type, payload));
      auto sha = StringField(j, "sha256");
      if (!sha || sha->size() != 64 || !IsLowerHex(*sha)) {
        return StreamError(Quote(file_.name) + ": ENTRY_END without a valid \"sha256\"");
      }
      ev.kind = Event::Kind::kEntryEnd;
      ev.sha256 = *sha;
      ev.entry = std::move(file_);
      state_ = State::kBetween;
      in_file_ = false;
      return ev;
    }
    case MessageType::kCopyEnd: {
      if (state_ == State::kInFile) {
        return StreamError("COPY_END inside " + Quote(file_.name) + " (ENTRY_END missing)");
      }
      VMCAT_ASSIGN_OR_RETURN(Json j, ParseObject(type, payload));
      auto w = j.find("warnings");
      if (w != j.end() && w->is_array()) {
        for (const Json& line : *w) {
          if (line.is_string() && ev.warnings.size() < kMaxWarnings) {
            ev.warnings.push_back(line.get<std::string>());
          }
        }
      }
      ev.kind = Event::Kind::kEnd;
      state_ = State::kDone;
      return ev;
    }
    default:
      return StreamError(std::string("unexpected ") + ToString(type));
  }
}

Result<Placement> Placement::Resolve(std::string dest, DestState state, size_t sources) {
  if (dest.empty()) return Status::ErrorWithErrno("empty destination path", ENOENT);
  Placement p;
  p.dest_ = dest;
  while (p.dest_.size() > 1 && p.dest_.back() == '/')
    p.dest_.pop_back();
  bool trailing_slash = p.dest_.size() != dest.size();
  if (state.exists && state.is_dir) {
    p.into_dir_ = true;
    p.parent_ = p.dest_;
    return p;
  }
  int err = state.exists ? ENOTDIR : ENOENT;
  std::string why = state.exists ? "Not a directory" : "No such file or directory";
  if (sources > 1) {
    return Status::ErrorWithErrno(dest + ": " + why + " (several sources need a directory)", err);
  }
  if (trailing_slash) return Status::ErrorWithErrno(dest + ": " + why, err);
  p.parent_ = DirName(p.dest_);
  return p;
}

Result<std::string> Placement::PathFor(std::string_view name) {
  if (into_dir_) return JoinPath(dest_, name);
  std::string_view top = TopComponent(name);
  if (!top_) {
    top_ = std::string(top);
  } else if (*top_ != top) {
    return Status::ErrorWithErrno(
        dest_ + ": Not a directory (cannot hold both " + Quote(*top_) + " and " + Quote(top) + ")",
        ENOTDIR);
  }
  return dest_ + std::string(name.substr(top.size()));
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/')
    path.remove_suffix(1);
  if (path == "/") return "";
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/')
    path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  while (slash > 0 && path[slash - 1] == '/')
    --slash;
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace vmcat

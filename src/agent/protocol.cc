#include "agent/protocol.h"

#include <cstring>

namespace vmcat {

namespace {

void PutLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutLe16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}
uint32_t GetLe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}
uint16_t GetLe16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}

}  // namespace

const char* ToString(MessageType t) {
  switch (t) {
    case MessageType::kHello:
      return "HELLO";
    case MessageType::kError:
      return "ERROR";
    case MessageType::kPing:
      return "PING";
    case MessageType::kPong:
      return "PONG";
    case MessageType::kExec:
      return "EXEC";
    case MessageType::kStarted:
      return "STARTED";
    case MessageType::kStdin:
      return "STDIN";
    case MessageType::kStdinEof:
      return "STDIN_EOF";
    case MessageType::kStdout:
      return "STDOUT";
    case MessageType::kStderr:
      return "STDERR";
    case MessageType::kResize:
      return "RESIZE";
    case MessageType::kSignal:
      return "SIGNAL";
    case MessageType::kExit:
      return "EXIT";
    case MessageType::kWindow:
      return "WINDOW";
    case MessageType::kClose:
      return "CLOSE";
    case MessageType::kCopyIn:
      return "COPY_IN";
    case MessageType::kCopyOut:
      return "COPY_OUT";
    case MessageType::kEntry:
      return "ENTRY";
    case MessageType::kData:
      return "DATA";
    case MessageType::kEntryEnd:
      return "ENTRY_END";
    case MessageType::kCopyEnd:
      return "COPY_END";
  }
  return "UNKNOWN";
}

bool IsDataMessage(MessageType t) {
  return t == MessageType::kStdin || t == MessageType::kStdout || t == MessageType::kStderr ||
         t == MessageType::kData;
}

Result<Json> Frame::JsonPayload() const {
  if (payload.empty()) return Json::object();
  Json j = Json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Error(std::string(ToString(type)) + ": payload is not a JSON object");
  }
  return j;
}

std::string EncodeFrame(MessageType type, uint32_t session, std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  PutLe32(&out, kFrameMagic);
  PutLe32(&out, static_cast<uint32_t>(payload.size()));
  PutLe16(&out, static_cast<uint16_t>(type));
  PutLe16(&out, 0);
  PutLe32(&out, session);
  out.append(payload);
  return out;
}

std::string EncodeJsonFrame(MessageType type, uint32_t session, const Json& payload) {
  return EncodeFrame(type, session, payload.dump());
}

std::string EncodeWindowPayload(uint32_t credit) {
  std::string payload;
  PutLe32(&payload, credit);
  return payload;
}

std::string EncodeWindowFrame(uint32_t session, uint32_t credit) {
  return EncodeFrame(MessageType::kWindow, session, EncodeWindowPayload(credit));
}

Result<uint32_t> DecodeWindowPayload(std::string_view payload) {
  if (payload.size() != 4) return Status::Error("WINDOW: payload must be 4 bytes");
  return GetLe32(payload.data());
}

Status FrameDecoder::Feed(std::string_view bytes, std::vector<Frame>* out) {
  buffer_.append(bytes);
  Status status;
  while (buffer_.size() - offset_ >= kFrameHeaderSize) {
    const char* h = buffer_.data() + offset_;
    if (GetLe32(h) != kFrameMagic) {
      offset_++;
      skipped_++;
      continue;
    }
    uint32_t length = GetLe32(h + 4);
    if (length > kMaxPayload) {
      if (status.ok()) {
        status = Status::Error("frame of " + std::to_string(length) + " bytes exceeds the limit");
      }
      offset_++;  // not a real header: resynchronise
      skipped_++;
      continue;
    }
    if (buffer_.size() - offset_ < kFrameHeaderSize + length) break;
    Frame f;
    f.type = static_cast<MessageType>(GetLe16(h + 8));
    f.session = GetLe32(h + 12);
    f.payload.assign(h + kFrameHeaderSize, length);
    out->push_back(std::move(f));
    offset_ += kFrameHeaderSize + length;
  }
  // Compact once the consumed prefix dominates, keeping appends cheap.
  if (offset_ > 0 && offset_ * 2 >= buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return status;
}

Json ExecRequest::ToJson() const {
  return Json{{"argv", argv}, {"env", env},          {"cwd", cwd},   {"user", user},
              {"tty", tty},   {"stdin", stdin_open}, {"rows", rows}, {"cols", cols}};
}

Result<ExecRequest> ExecRequest::FromJson(const Json& j) {
  ExecRequest r;
  auto argv = j.find("argv");
  if (argv == j.end() || !argv->is_array() || argv->empty()) {
    return Status::Error("EXEC: \"argv\" must be a non-empty list of strings");
  }
  for (const Json& a : *argv) {
    if (!a.is_string()) return Status::Error("EXEC: \"argv\" must be a list of strings");
    r.argv.push_back(a.get<std::string>());
  }
  if (auto env = j.find("env"); env != j.end()) {
    if (!env->is_array()) return Status::Error("EXEC: \"env\" must be a list of K=V strings");
    for (const Json& e : *env) {
      if (!e.is_string() || e.get<std::string>().find('=') == std::string::npos) {
        return Status::Error("EXEC: \"env\" entries must be K=V strings");
      }
      r.env.push_back(e.get<std::string>());
    }
  }
  r.cwd = j.value("cwd", "");
  r.user = j.value("user", "");
  r.tty = j.value("tty", false);
  r.stdin_open = j.value("stdin", false);
  r.rows = j.value("rows", uint16_t{24});
  r.cols = j.value("cols", uint16_t{80});
  return r;
}

}  // namespace vmcat

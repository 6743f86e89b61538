// QMP wire format: one JSON object per line (QEMU ends lines with "\r\n").
// Pure: bytes in, messages out; no I/O.
//
// Server messages are a greeting {"QMP": {...}}, a success
// {"return": ..., "id": ...}, an error {"error": {"class", "desc"}, "id": ...}
// or an event {"event": NAME, "data": {...}, "timestamp": {...}}.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vmcat {

using Json = nlohmann::json;

enum class QmpMessageKind { kGreeting, kReturn, kError, kEvent };
const char* ToString(QmpMessageKind kind);

struct QmpMessage {
  QmpMessageKind kind;
  Json body;                   // the whole object as received
  std::optional<uint64_t> id;  // our request id, echoed by QEMU
  std::string event;           // for events: the event name
  std::string error_class;     // for errors
  std::string error_desc;
};

/// Splits a byte stream into QMP messages.
class QmpDecoder {
 public:
  /// Appends bytes and decodes every complete line. A malformed line is an
  /// error (QEMU never sends one); the decoder stays usable afterwards.
  Status Feed(std::string_view bytes, std::vector<QmpMessage>* out);
  /// Bytes of an incomplete line held back.
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
};

/// Classifies one parsed JSON object.
Result<QmpMessage> ClassifyQmp(Json object);

/// Encodes a command: {"execute": name, "arguments": args, "id": id}\n
std::string EncodeQmpCommand(std::string_view name, const Json& arguments, uint64_t id);

}  // namespace vmcat

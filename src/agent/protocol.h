// The vmcat agent protocol: framed messages carrying many sessions (exec,
// copy) over one byte stream (a virtio-serial port, a vsock connection, or a
// client's connection to the supervisor). See docs/AGENT_PROTOCOL.md.
//
// Frame: a 16-byte little-endian header, then `length` payload bytes.
//   magic   u32  "VMCT" (0x54434d56): lets a reader resynchronise on a
//                stream that was cut mid-frame (an agent restart)
//   length  u32  payload bytes, at most kMaxPayload
//   type    u16  MessageType
//   flags   u16  0 (reserved)
//   session u32  0 for the link, else the session the frame belongs to
// Control payloads are JSON objects; data payloads are raw bytes. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "qmp/qmp_codec.h"

namespace vmcat {

inline constexpr uint32_t kFrameMagic = 0x54434d56;  // "VMCT" in memory order
inline constexpr size_t kFrameHeaderSize = 16;
inline constexpr uint32_t kMaxPayload = 1 << 20;
inline constexpr int kProtocolVersion = 1;
/// Each side may send this many data bytes per session and direction before
/// it needs a WINDOW credit from the receiver.
inline constexpr uint32_t kInitialWindow = 256 * 1024;
/// Receivers return credit in batches of at least this much (while the
/// sender still has kInitialWindow - kCreditBatch left, it never waits), so
/// a stream of small frames does not cost a WINDOW frame each.
inline constexpr uint32_t kCreditBatch = 64 * 1024;
/// Data frames are cut to this size so that sessions interleave fairly.
inline constexpr size_t kMaxDataChunk = 32 * 1024;
/// The agent's vsock port.
inline constexpr uint32_t kAgentVsockPort = 5225;

enum class MessageType : uint16_t {
  kHello = 1,      // link: {"protocol": N, "version": "vmcat x.y", "role": "agent"|"host"}
  kError = 4,      // session: {"message": text, "errno": n}
  kPing = 5,       // session: opaque payload
  kPong = 6,       // session: the ping's payload
  kExec = 10,      // opens an exec session: ExecRequest as JSON
  kStarted = 11,   // {"pid": n}
  kStdin = 12,     // data
  kStdinEof = 13,  // no more stdin
  kStdout = 14,    // data
  kStderr = 15,    // data
  kResize = 16,    // {"rows": r, "cols": c}
  kSignal = 17,    // {"signal": n}
  kExit = 18,      // {"code": n} or {"signal": n}
  kWindow = 19,    // u32 LE: more data bytes the other side may send
  kClose = 20,     // the session is abandoned by the sender
  kCopyIn = 30,    // opens a copy into the guest: {"dest", "sources": n, "user"}
  kCopyOut = 31,   // opens a copy out of the guest: {"paths": [...], "user"}
  kEntry = 32,     // {"name", "type": "file"|"dir"|"symlink", "mode", "size", "target"}
  kData = 33,      // file bytes of the current entry
  kEntryEnd = 34,  // {"sha256": hex}
  kCopyEnd = 35,   // sender: the tree is complete; receiver: {"files": n, "bytes": n}
};
const char* ToString(MessageType type);
/// Data frames consume flow-control window.
bool IsDataMessage(MessageType type);

struct Frame {
  MessageType type;
  uint32_t session = 0;
  std::string payload;

  /// The payload parsed as a JSON object (an empty object for an empty payload).
  Result<Json> JsonPayload() const;
};

std::string EncodeFrame(MessageType type, uint32_t session, std::string_view payload);
std::string EncodeJsonFrame(MessageType type, uint32_t session, const Json& payload);
std::string EncodeWindowPayload(uint32_t credit);
std::string EncodeWindowFrame(uint32_t session, uint32_t credit);
Result<uint32_t> DecodeWindowPayload(std::string_view payload);

/// Splits a byte stream into frames. Garbage before a magic (the tail of a
/// frame cut by a restart) is skipped and counted.
class FrameDecoder {
 public:
  /// Appends bytes; complete frames go to `out`. Fails only on a header that
  /// announces more than kMaxPayload (the stream is then resynchronised).
  Status Feed(std::string_view bytes, std::vector<Frame>* out);
  uint64_t skipped_bytes() const { return skipped_; }
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;
  uint64_t skipped_ = 0;
};

/// What to run, as the host asks for it.
struct ExecRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V", added to the agent's environment
  std::string cwd;
  std::string user;
  bool tty = false;
  bool stdin_open = false;
  uint16_t rows = 24, cols = 80;

  Json ToJson() const;
  static Result<ExecRequest> FromJson(const Json& j);
};

}  // namespace vmcat

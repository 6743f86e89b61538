// The supervisor's control protocol on ctl.sock (see docs/PROTOCOLS.md).
//
// The client sends one JSON request line; the supervisor answers with one
// JSON line {"ok": true, ...} or {"ok": false, "error": "..."}. Streaming
// requests (console, events, logs) then carry raw bytes or JSON lines until
// either side closes. Pure: parsing and formatting only.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "qmp/qmp_codec.h"

namespace vmcat {

enum class ControlOp { kStatus, kHmp, kQmp, kEvents, kConsole, kLogs, kStop, kAgent };
const char* ToString(ControlOp op);

struct ControlRequest {
  ControlOp op = ControlOp::kStatus;
  std::string command;  // hmp: the command line
  std::string execute;  // qmp: the command
  Json arguments;       // qmp: its arguments (object or null)
  bool force = false;   // console: take the keyboard; stop: kill now
  bool history = true;  // console: replay recent output first
  bool follow = false;  // logs: keep streaming new output
  double timeout = 30;  // stop: seconds to wait for the guest to power off
};

Result<ControlRequest> ParseControlRequest(std::string_view line);
std::string EncodeControlRequest(const ControlRequest& request);

/// {"ok":true, ...extra}\n
std::string ControlOk(const Json& extra = Json::object());
/// {"ok":false,"error":message}\n
std::string ControlError(std::string_view message);

/// HMP reports failures as text: "Error: ...", "unknown command: ...",
/// "Could not ...". True when `output` reads like one of those.
bool HmpOutputLooksLikeError(std::string_view output);

}  // namespace vmcat

#include "vm/control_protocol.h"

namespace vmcat {

namespace {
struct OpName {
  ControlOp op;
  const char* name;
};
constexpr OpName kOps[] = {{ControlOp::kStatus, "status"},   {ControlOp::kHmp, "hmp"},
                           {ControlOp::kQmp, "qmp"},         {ControlOp::kEvents, "events"},
                           {ControlOp::kConsole, "console"}, {ControlOp::kLogs, "logs"},
                           {ControlOp::kStop, "stop"},       {ControlOp::kAgent, "agent"}};
}  // namespace

const char* ToString(ControlOp op) {
  for (const OpName& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "?";
}

Result<ControlRequest> ParseControlRequest(std::string_view line) {
  Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("request is not a JSON object");
  ControlRequest r;
  std::string op = j.value("op", "");
  bool known = false;
  for (const OpName& o : kOps) {
    if (op == o.name) {
      r.op = o.op;
      known = true;
    }
  }
  if (!known) return Status::Error("unknown op \"" + op + "\"");
  auto str = [&](const char* key, std::string* out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return Status::Error(std::string("missing \"") + key + "\"");
    if (!it->is_string()) return Status::Error(std::string("\"") + key + "\" must be a string");
    *out = it->get<std::string>();
    return Status::Ok();
  };
  switch (r.op) {
    case ControlOp::kHmp:
      VMCAT_RETURN_IF_ERROR(str("command", &r.command));
      break;
    case ControlOp::kQmp:
      VMCAT_RETURN_IF_ERROR(str("execute", &r.execute));
      if (auto it = j.find("arguments"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) return Status::Error("\"arguments\" must be a JSON object");
        r.arguments = *it;
      }
      break;
    default:
      break;
  }
  r.force = j.value("force", false);
  r.history = j.value("history", true);
  r.follow = j.value("follow", false);
  if (auto it = j.find("timeout"); it != j.end()) {
    if (!it->is_number() || it->get<double>() < 0) {
      return Status::Error("\"timeout\" must be a non-negative number");
    }
    r.timeout = it->get<double>();
  }
  return r;
}

std::string EncodeControlRequest(const ControlRequest& r) {
  Json j = {{"op", ToString(r.op)}};
  switch (r.op) {
    case ControlOp::kHmp:
      j["command"] = r.command;
      break;
    case ControlOp::kQmp:
      j["execute"] = r.execute;
      if (!r.arguments.is_null()) j["arguments"] = r.arguments;
      break;
    case ControlOp::kConsole:
      j["force"] = r.force;
      j["history"] = r.history;
      break;
    case ControlOp::kLogs:
      j["follow"] = r.follow;
      break;
    case ControlOp::kStop:
      j["force"] = r.force;
      j["timeout"] = r.timeout;
      break;
    default:
      break;
  }
  return j.dump() + "\n";
}

std::string ControlOk(const Json& extra) {
  Json j = extra.is_object() ? extra : Json::object();
  j["ok"] = true;
  return j.dump() + "\n";
}

std::string ControlError(std::string_view message) {
  return Json{{"ok", false}, {"error", std::string(message)}}.dump() + "\n";
}

bool HmpOutputLooksLikeError(std::string_view out) {
  auto starts = [&](std::string_view p) { return out.substr(0, p.size()) == p; };
  return starts("Error") || starts("unknown command") || starts("Could not") ||
         starts("Invalid parameter") || starts("Parameter '") ||
         out.find("\nError: ") != std::string_view::npos;
}

}  // namespace vmcat

#include "qmp/qmp_codec.h"

namespace vmcat {

const char* ToString(QmpMessageKind kind) {
  switch (kind) {
    case QmpMessageKind::kGreeting:
      return "greeting";
    case QmpMessageKind::kReturn:
      return "return";
    case QmpMessageKind::kError:
      return "error";
    case QmpMessageKind::kEvent:
      return "event";
  }
  return "?";
}

Result<QmpMessage> ClassifyQmp(Json object) {
  if (!object.is_object()) return Status::Error("QMP: message is not a JSON object");
  QmpMessage m;
  if (auto it = object.find("id"); it != object.end() && it->is_number_unsigned()) {
    m.id = it->get<uint64_t>();
  }
  if (object.contains("QMP")) {
    m.kind = QmpMessageKind::kGreeting;
  } else if (object.contains("return")) {
    m.kind = QmpMessageKind::kReturn;
  } else if (auto err = object.find("error"); err != object.end()) {
    m.kind = QmpMessageKind::kError;
    if (err->is_object()) {
      m.error_class = err->value("class", "");
      m.error_desc = err->value("desc", "");
    }
  } else if (auto ev = object.find("event"); ev != object.end() && ev->is_string()) {
    m.kind = QmpMessageKind::kEvent;
    m.event = ev->get<std::string>();
  } else {
    return Status::Error("QMP: unrecognised message " + object.dump().substr(0, 200));
  }
  m.body = std::move(object);
  return m;
}

Status QmpDecoder::Feed(std::string_view bytes, std::vector<QmpMessage>* out) {
  buffer_.append(bytes);
  Status first_error;
  size_t start = 0;
  while (true) {
    size_t nl = buffer_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(buffer_.data() + start, nl - start);
    start = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    if (line.empty()) continue;
    Json object = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) {
      if (first_error.ok()) {
        first_error = Status::Error("QMP: malformed JSON: " + std::string(line.substr(0, 200)));
      }
      continue;
    }
    auto m = ClassifyQmp(std::move(object));
    if (!m.ok()) {
      if (first_error.ok()) first_error = m.status();
      continue;
    }
    out->push_back(std::move(m).value());
  }
  buffer_.erase(0, start);
  return first_error;
}

std::string EncodeQmpCommand(std::string_view name, const Json& arguments, uint64_t id) {
  Json cmd = {{"execute", name}, {"id", id}};
  if (!arguments.is_null() && !(arguments.is_object() && arguments.empty())) {
    cmd["arguments"] = arguments;
  }
  return cmd.dump() + "\n";
}

}  // namespace vmcat

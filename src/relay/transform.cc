#include "relay/transform.h"

namespace vmcat {

void LineConverter::Convert(std::string_view in, std::string* out) {
  if (mode_ == Mode::kNone) {
    out->append(in);
    return;
  }
  if (mode_ == Mode::kCr) {
    for (char c : in)
      out->push_back(c == '\n' ? '\r' : c == '\r' ? '\n' : c);
    return;
  }
  if (!reading_) {
    for (char c : in) {
      if (c == '\n') out->push_back('\r');
      out->push_back(c);
    }
    return;
  }
  for (char c : in) {
    if (held_cr_) {
      held_cr_ = false;
      if (c == '\n') {
        out->push_back('\n');
        continue;
      }
      out->push_back('\r');
    }
    if (c == '\r') {
      held_cr_ = true;
    } else {
      out->push_back(c);
    }
  }
}

void LineConverter::Flush(std::string* out) {
  if (held_cr_) out->push_back('\r');
  held_cr_ = false;
}

std::optional<size_t> FindEscape(std::string_view data, std::optional<unsigned char> escape) {
  if (!escape) return std::nullopt;
  size_t pos = data.find(static_cast<char>(*escape));
  if (pos == std::string_view::npos) return std::nullopt;
  return pos;
}

}  // namespace vmcat

#include "relay/dump.h"

#include <cstdio>

namespace vmcat {

namespace {

bool Printable(unsigned char c) {
  return c >= 0x20 && c < 0x7f;
}

void AppendHex(std::string* out, unsigned char c) {
  static const char kDigits[] = "0123456789abcdef";
  out->push_back(' ');
  out->push_back(kDigits[c >> 4]);
  out->push_back(kDigits[c & 15]);
}

}  // namespace

std::string Dumper::Format(std::string_view data, const timespec& when) {
  std::string out;
  if (!enabled() || data.empty()) return out;
  struct tm tm;
  localtime_r(&when.tv_sec, &tm);
  char header[128];
  std::snprintf(header, sizeof header,
                "%c %04d/%02d/%02d %02d:%02d:%02d.%06ld  length=%zu from=%llu to=%llu\n",
                direction_, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, when.tv_nsec / 1000, data.size(),
                static_cast<unsigned long long>(offset_),
                static_cast<unsigned long long>(offset_ + data.size() - 1));
  offset_ += data.size();
  out += header;
  if (hex_ && text_) {
    for (size_t line = 0; line < data.size(); line += 16) {
      std::string ascii;
      for (size_t i = 0; i < 16; ++i) {
        if (line + i < data.size()) {
          unsigned char c = static_cast<unsigned char>(data[line + i]);
          AppendHex(&out, c);
          ascii.push_back(Printable(c) ? static_cast<char>(c) : '.');
        } else {
          out += "   ";
        }
      }
      out += "  ";
      out += ascii;
      out += '\n';
    }
    out += "--\n";
  } else if (hex_) {
    for (unsigned char c : data)
      AppendHex(&out, c);
    out += '\n';
  } else {
    for (unsigned char c : data) {
      if (c == '\n' || c == '\t') {
        out.push_back(static_cast<char>(c));
      } else if (c == '\r') {
        out += "\\r";
      } else {
        out.push_back(Printable(c) ? static_cast<char>(c) : '.');
      }
    }
  }
  return out;
}

}  // namespace vmcat

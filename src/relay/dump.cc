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
                "%c %04d/%02d/%02d %02d:%02d:%02d.%09ld  length=%zu from=%llu to=%llu\n",
                direction_, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, static_cast<long>(when.tv_nsec), data.size(),
                static_cast<unsigned long long>(offset_),
                static_cast<unsigned long long>(offset_ + data.size() - 1));
  offset_ += data.size();
  out += header;
  if (hex_ && text_) {
    // Rows of up to 16 bytes; like socat, a newline also ends a row, so the
    // text column reads line by line.
    size_t pos = 0;
    while (pos < data.size()) {
      size_t row = 0;
      while (row < 16 && pos + row < data.size()) {
        if (data[pos + row++] == '\n') break;
      }
      std::string ascii;
      for (size_t i = 0; i < row; ++i) {
        unsigned char c = static_cast<unsigned char>(data[pos + i]);
        AppendHex(&out, c);
        ascii.push_back(Printable(c) ? static_cast<char>(c) : '.');
      }
      out.append(3 * (16 - row), ' ');
      out += "  ";
      out += ascii;
      out += '\n';
      pos += row;
    }
    out += "--\n";
  } else if (hex_) {
    for (unsigned char c : data)
      AppendHex(&out, c);
    out += '\n';
  } else {
    for (unsigned char c : data) {
      // socat's escapes; other unprintable bytes become '.'.
      switch (c) {
        case '\n':
        case '\t':
          out.push_back(static_cast<char>(c));
          break;
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\v':
          out += "\\v";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\\':
          out += "\\\\";
          break;
        default:
          out.push_back(Printable(c) ? static_cast<char>(c) : '.');
      }
    }
  }
  return out;
}

}  // namespace vmcat

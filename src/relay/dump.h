// Traffic dumps for -v (text) and -x (hex), in socat's layout:
//
//   > 2026/11/23 17:27:56.341688  length=6 from=0 to=5
//   hello
//
// ">" is data from address 1 to address 2, "<" the other way. With -v,
// \a \b \v \f \r and the backslash are written as C escapes (two
// characters) and other bytes that are not printable show as '.'. With -x
// alone the hex bytes form one line; with -x and -v, rows of 16 bytes (a
// newline ends a row early) with a text column, then "--".
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace vmcat {

class Dumper {
 public:
  Dumper(bool text, bool hex, char direction) : text_(text), hex_(hex), direction_(direction) {}

  bool enabled() const { return text_ || hex_; }
  /// Formats one chunk of relayed data; `when` is the wall-clock time.
  std::string Format(std::string_view data, const timespec& when);

 private:
  bool text_;
  bool hex_;
  char direction_;
  uint64_t offset_ = 0;
};

}  // namespace vmcat

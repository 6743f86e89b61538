#include "tty/query_filter.h"

#include <cstddef>

namespace vmcat {

namespace {

constexpr char kEsc = '\x1b';
constexpr size_t kLongestQuery = 8;  // ESC [ > 0 c, ESC [ 21 t, ...

// Whether the complete control sequence `seq` (ESC [ params final) asks the
// terminal for an answer.
bool IsQuery(std::string_view seq) {
  std::string_view params = seq.substr(2, seq.size() - 3);
  char final = seq.back();
  if (final == 'n') return params == "5" || params == "6" || params == "?6";
  if (final == 'c') return params.empty() || params == "0" || params == ">" || params == ">0" ||
                           params == "=";
  if (final == 't') {
    for (std::string_view p : {"11", "13", "14", "16", "18", "19", "20", "21"}) {
      if (params == p) return true;
    }
  }
  return false;
}

// Parameter and intermediate bytes of a CSI sequence (ECMA-48: 0x20-0x3F).
bool IsParameterByte(char c) {
  return c >= 0x20 && c <= 0x3f;
}

}  // namespace

std::string TerminalQueryFilter::Filter(std::string_view chunk) {
  std::string in = std::move(held_);
  held_.clear();
  in.append(chunk);
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] != kEsc) {
      size_t next = in.find(kEsc, i);
      if (next == std::string::npos) next = in.size();
      out.append(in, i, next - i);
      i = next;
      continue;
    }
    // ESC: a CSI sequence short enough to be a query?
    if (i + 1 == in.size()) {
      held_ = in.substr(i);  // ESC at the very end: wait for the next byte
      break;
    }
    if (in[i + 1] != '[') {
      out += in[i++];
      continue;
    }
    size_t j = i + 2;
    while (j < in.size() && j - i < kLongestQuery && IsParameterByte(in[j])) ++j;
    if (j == in.size() && j - i < kLongestQuery) {
      held_ = in.substr(i);  // unfinished: decide with the next chunk
      break;
    }
    if (j < in.size() && j - i < kLongestQuery && in[j] >= 0x40 && in[j] <= 0x7e &&
        IsQuery(std::string_view(in).substr(i, j - i + 1))) {
      i = j + 1;  // drop the query
      continue;
    }
    out += in[i++];  // not a query: pass the ESC and go on from the next byte
  }
  return out;
}

std::string TerminalQueryFilter::Finish() {
  std::string rest = std::move(held_);
  held_.clear();
  return rest;
}

}  // namespace vmcat

// Byte transformations applied while relaying, kept pure for testing:
// line-ending conversion (crnl, cr) and the escape byte.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vmcat {

/// Converts line endings of one direction of one address. Reading from an
/// address with `crnl` turns "\r\n" into "\n"; writing to it turns "\n" into
/// "\r\n". With `cr`, "\r" and "\n" are swapped instead. A "\r" at the end of
/// a chunk is held back until the next chunk shows whether "\n" follows.
class LineConverter {
 public:
  enum class Mode { kNone, kCrnl, kCr };
  LineConverter(Mode mode, bool reading) : mode_(mode), reading_(reading) {}

  bool active() const { return mode_ != Mode::kNone; }
  /// Appends the converted form of `in` to `out`.
  void Convert(std::string_view in, std::string* out);
  /// At EOF: appends anything held back.
  void Flush(std::string* out);

 private:
  Mode mode_;
  bool reading_;
  bool held_cr_ = false;
};

/// Returns the offset of the escape byte in `data`, if present.
std::optional<size_t> FindEscape(std::string_view data, std::optional<unsigned char> escape);

}  // namespace vmcat

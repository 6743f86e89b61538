// Small string helpers shared by parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmcat {

/// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);
std::string ToUpper(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);

/// Parses an unsigned integer in decimal, 0x hex or 0 octal (as strtoul with base 0).
/// Rejects empty input, signs, trailing garbage and overflow beyond `max`.
std::optional<uint64_t> ParseUnsigned(std::string_view s, uint64_t max = UINT64_MAX);
/// Parses a signed decimal integer.
std::optional<int64_t> ParseSigned(std::string_view s);
/// Parses a non-negative decimal number of seconds such as "0.5" or "30".
std::optional<double> ParseSeconds(std::string_view s);
/// Parses a boolean option value: 1/0, yes/no, on/off, true/false.
std::optional<bool> ParseBool(std::string_view s);

/// Quotes a string for messages: "abc" with non-printables escaped.
std::string Quote(std::string_view s);

/// Splits on a single character, keeping empty fields.
std::vector<std::string> Split(std::string_view s, char sep);

}  // namespace vmcat

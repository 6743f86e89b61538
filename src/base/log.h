// Diagnostics on stderr.
//
// Errors always print as "vmcat: <message>". With -d (repeatable, as socat)
// warnings, notices, info and debug lines appear, prefixed by the level letter
// and the pid so that lines from several processes stay apart. Not thread-safe:
// vmcat is single-threaded by design.
#pragma once

#include <string_view>

namespace vmcat {

enum class LogLevel { kError = 0, kWarning = 1, kNotice = 2, kInfo = 3, kDebug = 4 };

/// Sets how many -d flags were given (0 = errors only).
void SetLogVerbosity(int d_flags);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogError(std::string_view m) {
  Log(LogLevel::kError, m);
}
inline void LogWarning(std::string_view m) {
  Log(LogLevel::kWarning, m);
}
inline void LogNotice(std::string_view m) {
  Log(LogLevel::kNotice, m);
}
inline void LogInfo(std::string_view m) {
  Log(LogLevel::kInfo, m);
}
inline void LogDebug(std::string_view m) {
  Log(LogLevel::kDebug, m);
}

}  // namespace vmcat

#include "base/log.h"

#include <unistd.h>

#include <string>

#include "base/fd.h"

namespace vmcat {

namespace {
int g_verbosity = 0;
}

void SetLogVerbosity(int d_flags) {
  g_verbosity = d_flags;
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= g_verbosity;
}

void Log(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::string line;
  if (level == LogLevel::kError && g_verbosity == 0) {
    line = "vmcat: ";
  } else {
    static const char kLetters[] = "EWNID";
    line = "vmcat[" + std::to_string(::getpid()) + "] ";
    line += kLetters[static_cast<int>(level)];
    line += ' ';
  }
  line += message;
  line += '\n';
  (void)WriteAll(STDERR_FILENO, line.data(), line.size());
}

}  // namespace vmcat

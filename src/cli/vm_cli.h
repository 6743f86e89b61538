// Helpers shared by the VM subcommands (up, ls, console, monitor, ...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/flags.h"
#include "tty/query_filter.h"
#include "vm/control_client.h"

namespace vmcat {

/// Prints "vmcat: <message>" and returns 1.
int Fail(const Status& status);
int Fail(const std::string& message);

/// Adds --runtime-dir to a subcommand's flags.
void AddRuntimeDirFlag(FlagSet* flags, std::string* dir);

/// Standard start of a subcommand: parses flags, handles --help, checks the
/// number of positional arguments. Returns -1 to go on, or an exit code.
int ParseCommandLine(FlagSet* flags, int argc, char** argv, size_t min_positional,
                     size_t max_positional, std::vector<std::string>* positional,
                     std::vector<std::string>* rest = nullptr);

/// Runs a relay between this process's stdio and an already connected
/// socket, as `vmcat console` and `vmcat monitor` do. `stdio_address` gives
/// the terminal options (e.g. "-,rawer,escape=0x1d"). Returns the exit code.
int RelayStdioToSocket(const std::string& stdio_address, UniqueFd socket, std::string leftover,
                       const std::string& socket_name);

/// Copies a control stream (its leftover bytes, then the socket until EOF) to
/// stdout, through `filter` if given. Returns 0, or 1 when stdout fails (a
/// closed pipe is not an error).
int StreamToStdout(ControlSession* session, TerminalQueryFilter* filter = nullptr);

/// Runs one HMP command; QEMU's error text becomes an error. The output has
/// "\n" line ends.
Result<std::string> RunHmp(const VmPaths& paths, const std::string& command);

/// Makes a path absolute against the current directory (for VM files named
/// on the command line: the supervisor runs in "/").
std::string AbsolutePath(const std::string& path);

/// "1h02m", "3m05s", "42s".
std::string FormatDuration(int64_t seconds);

}  // namespace vmcat

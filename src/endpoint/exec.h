// EXEC and SYSTEM addresses: start a program whose stdin/stdout (and with
// `stderr`, stderr) are connected to the relay through a socketpair, two
// pipes, or a pseudo-terminal.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "address/address.h"
#include "endpoint/endpoint.h"

namespace vmcat {

/// Splits an EXEC command line into words as socat does: whitespace separates
/// words, '...' and "..." group (quotes removed), backslash escapes.
Result<std::vector<std::string>> SplitCommandLine(std::string_view line);

/// Starts the program of an EXEC or SYSTEM address with one fork+exec (no
/// intermediate process) and returns the relay's end of its I/O. The returned
/// endpoint owns the child; the caller must watch it with Loop::WatchChild.
/// `extra_env` ("NAME=value") is added to the program's environment.
Result<std::unique_ptr<Endpoint>> SpawnExec(const SingleAddress& address, std::string name,
                                            const std::vector<std::string>& extra_env = {});

/// Starts the program of an EXEC or SYSTEM address on an accepted stream
/// connection itself, as inetd does: its stdin and stdout (and with `stderr`,
/// stderr) are `connection`, made blocking. Nothing is left to relay; the
/// caller closes its copy of `connection` and reaps the child (Loop::WatchChild).
/// For addresses without pty or pipes only.
Result<std::unique_ptr<ChildProcess>> SpawnExecOnConnection(
    const SingleAddress& address, int connection, const std::vector<std::string>& extra_env = {});

}  // namespace vmcat

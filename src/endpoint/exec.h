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

/// Splits an EXEC command line into words as socat does: spaces separate
/// words (a tab or newline is part of one), '...' and "..." group (quotes
/// removed, "" is an empty word), backslash escapes.
Result<std::vector<std::string>> SplitCommandLine(std::string_view line);

/// Starts the program of an EXEC or SYSTEM address with one fork+exec (no
/// intermediate process) and returns the relay's end of its I/O. The returned
/// endpoint owns the child; the caller must watch it with Loop::WatchChild.
/// `extra_env` ("NAME=value") is added to the program's environment.
/// `access` is what the relay does with the program: with kWrite (-u) the
/// relay only feeds its stdin and its stdout stays ours (as socat's -u
/// leaves it), with kRead (-U) the relay only reads its stdout and its stdin
/// stays ours. A pty is always both ways.
Result<std::unique_ptr<Endpoint>> SpawnExec(const SingleAddress& address, std::string name,
                                            const std::vector<std::string>& extra_env = {},
                                            Access access = Access::kBoth);

/// Starts the program of an EXEC or SYSTEM address on an accepted stream
/// connection itself, as inetd does: its stdin and stdout (and with `stderr`,
/// stderr) are `connection`, made blocking. Nothing is left to relay; the
/// caller closes its copy of `connection` and reaps the child (Loop::WatchChild).
/// For addresses without pty or pipes only.
Result<std::unique_ptr<ChildProcess>> SpawnExecOnConnection(
    const SingleAddress& address, int connection, const std::vector<std::string>& extra_env = {});

}  // namespace vmcat

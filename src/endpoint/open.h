// Opening relay addresses. Addresses that open at once (STDIO, files, EXEC,
// UNIX-CONNECT, ...) complete on the next loop turn; connecting sockets (TCP,
// VSOCK, hybrid vsock) complete asynchronously so that one process can open
// many at once in fork mode. retry=, interval=, forever and connect-timeout=
// are honoured here. Listening addresses are opened by Listener instead.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "address/address.h"
#include "endpoint/endpoint.h"
#include "loop/loop.h"

namespace vmcat {

/// The descriptors a STDIO, STDIN, STDOUT, STDERR or FD address reads and
/// writes (-1: none) when the relay uses it as `access` says.
std::pair<int, int> StdioDescriptors(const SingleAddress& a, Access access);

/// mode= (exactly, not masked by the umask), user= and group= (numeric) of
/// a file system entry an address created.
Status ApplyOwnership(const std::string& path, const AddressOptions& o);

class OpenOperation {
 public:
  using Done = std::function<void(Result<std::unique_ptr<Endpoint>>)>;
  virtual ~OpenOperation() = default;
};

/// Starts opening a (possibly dual) non-listening address. `done` runs exactly
/// once, from the loop, unless the returned operation is destroyed first
/// (which cancels it and closes whatever was half-opened).
/// `program_env` ("NAME=value" strings) is added to the environment of an
/// EXEC/SYSTEM program (socat's SOCAT_PEERADDR and friends).
std::unique_ptr<OpenOperation> StartOpen(Loop* loop, const AddressSpec& spec, std::string name,
                                         Access access, OpenOperation::Done done,
                                         std::vector<std::string> program_env = {});

/// Sets O_NONBLOCK on an inherited descriptor and applies terminal options if
/// it is a terminal. The caller first gives the endpoint a FlagsGuard for it
/// (and for any descriptor sharing its open file description), so that the
/// original flags come back when the endpoint is destroyed.
Status PrepareInheritedFd(Endpoint* endpoint, int fd, const AddressOptions& options);

/// Where a socket came from: options that only matter before bind(2)
/// (reuseaddr) are not applied to a socket that accept(2) returned.
enum class SocketOrigin { kCreated, kAccepted };

/// Applies socket options shared by connecting, listening and accepted sockets.
Status ApplySocketOptions(int fd, const AddressOptions& options, bool tcp,
                          SocketOrigin origin = SocketOrigin::kCreated);

}  // namespace vmcat

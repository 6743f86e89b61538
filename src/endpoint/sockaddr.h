// Socket addresses for the relay's address types: UNIX paths and abstract
// names, IPv4/IPv6 host:port (resolved with getaddrinfo), and AF_VSOCK.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "address/address.h"
#include "base/status.h"

namespace vmcat {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  /// "127.0.0.1:80", "[::1]:80", "/path", "@abstract", "vsock:42:1234".
  std::string ToString() const;
};

/// A UNIX socket address; fails when the path does not fit in sun_path.
Result<SocketAddress> MakeUnixAddress(std::string_view path, bool abstract);
SocketAddress MakeVsockAddress(uint32_t cid, uint32_t port);

/// Resolves host and port (number or service name) for a stream or datagram
/// socket. An empty host with `passive` means every local address.
Result<std::vector<SocketAddress>> ResolveInet(std::string_view host, std::string_view port,
                                               IpFamily family, int socktype, bool passive);

/// What socat puts in the environment of an EXEC/SYSTEM program for an
/// accepted connection `fd`: SOCAT_PEERADDR, SOCAT_SOCKADDR and, for IP and
/// vsock, SOCAT_PEERPORT and SOCAT_SOCKPORT, in socat's formats ("127.0.0.1";
/// IPv6 as "[0000:...:0001]"; an unnamed UNIX peer as "<anon>"). An
/// IPv4-mapped peer of a dual-stack listener shows as IPv4.
std::vector<std::string> SocatPeerEnvironment(int fd);

/// Parses a bind= value for IP sockets: "host", "host:port", "[v6]:port" or ":port".
Result<SocketAddress> ResolveBindAddress(std::string_view value, int family, int socktype);

}  // namespace vmcat

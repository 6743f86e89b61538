#include "endpoint/sockaddr.h"

#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "base/strings.h"

namespace vmcat {

std::string SocketAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = "";
  switch (family()) {
    case AF_INET: {
      auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
      inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
      return std::string(buf) + ":" + std::to_string(ntohs(sin->sin_port));
    }
    case AF_INET6: {
      auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
      return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6->sin6_port));
    }
    case AF_UNIX: {
      auto* sun = reinterpret_cast<const sockaddr_un*>(&storage);
      size_t n =
          length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
      if (n == 0) return "(unnamed)";
      if (sun->sun_path[0] == '\0') return "@" + std::string(sun->sun_path + 1, n - 1);
      return std::string(sun->sun_path, strnlen(sun->sun_path, n));
    }
    case AF_VSOCK: {
      auto* svm = reinterpret_cast<const sockaddr_vm*>(&storage);
      return "vsock:" + std::to_string(svm->svm_cid) + ":" + std::to_string(svm->svm_port);
    }
    default:
      return "(family " + std::to_string(family()) + ")";
  }
}

Result<SocketAddress> MakeUnixAddress(std::string_view path, bool abstract) {
  SocketAddress a;
  auto* sun = reinterpret_cast<sockaddr_un*>(&a.storage);
  sun->sun_family = AF_UNIX;
  size_t max = sizeof(sun->sun_path) - 1;
  if (path.size() > max) {
    return Status::Error(std::string(abstract ? "abstract socket name" : "UNIX socket path") +
                         " too long: " + std::to_string(path.size()) + " bytes, at most " +
                         std::to_string(max));
  }
  size_t offset = abstract ? 1 : 0;
  std::memcpy(sun->sun_path + offset, path.data(), path.size());
  a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset + path.size() +
                                    (abstract ? 0 : 1));
  return a;
}

SocketAddress MakeVsockAddress(uint32_t cid, uint32_t port) {
  SocketAddress a;
  auto* svm = reinterpret_cast<sockaddr_vm*>(&a.storage);
  svm->svm_family = AF_VSOCK;
  svm->svm_cid = cid;
  svm->svm_port = port;
  a.length = sizeof(sockaddr_vm);
  return a;
}

namespace {

// A numeric host and port need no resolver: getaddrinfo would still ask the
// kernel for the machine's addresses (AI_ADDRCONFIG: a netlink dump, seven
// system calls) on every connection a fork server makes. Anything else
// (names, scoped IPv6, service names, a family mismatch) goes to getaddrinfo,
// which also produces the error messages.
std::optional<SocketAddress> NumericInetAddress(const std::string& host, uint16_t port,
                                                IpFamily family) {
  if (host.empty()) return std::nullopt;
  SocketAddress a;
  auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (family != IpFamily::kIpv6 && inet_pton(AF_INET, host.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
    return a;
  }
  if (family != IpFamily::kIpv4 && inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<SocketAddress>> ResolveInet(std::string_view host, std::string_view port,
                                               IpFamily family, int socktype, bool passive) {
  std::string h(host);
  // socat accepts IPv6 literals in brackets.
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string p(port);
  if (p.empty()) return Status::Error("empty port");
  std::optional<uint64_t> number = ParseUnsigned(p);
  if (number && *number > 65535) return Status::Error("port " + p + " out of range (0-65535)");
  if (number) {
    auto literal = NumericInetAddress(h, static_cast<uint16_t>(*number), family);
    if (literal) return std::vector<SocketAddress>{*literal};
  }
  addrinfo hints{};
  hints.ai_family = family == IpFamily::kIpv4   ? AF_INET
                    : family == IpFamily::kIpv6 ? AF_INET6
                                                : AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = (passive ? AI_PASSIVE : 0) | AI_ADDRCONFIG;
  if (family == IpFamily::kAny && passive && h.empty()) {
    // Listen on IPv6 any (dual-stack) if possible, like socat's TCP-LISTEN.
    hints.ai_flags &= ~AI_ADDRCONFIG;
  }
  addrinfo* res = nullptr;
  int rc = getaddrinfo(h.empty() ? nullptr : h.c_str(), p.c_str(), &hints, &res);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME || rc == EAI_NODATA) {
    // AI_ADDRCONFIG hides loopback-only families; retry without it.
    hints.ai_flags &= ~AI_ADDRCONFIG;
    rc = getaddrinfo(h.empty() ? nullptr : h.c_str(), p.c_str(), &hints, &res);
  }
  if (rc != 0) {
    std::string what = h.empty() ? "port " + Quote(p) : Quote(h) + " port " + Quote(p);
    return Status::Error("resolve " + what + ": " + gai_strerror(rc));
  }
  std::vector<SocketAddress> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    SocketAddress a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  freeaddrinfo(res);
  if (passive && family == IpFamily::kAny) {
    // Prefer the IPv6 wildcard first: it accepts IPv4 too (dual-stack).
    std::stable_partition(out.begin(), out.end(),
                          [](const SocketAddress& a) { return a.family() == AF_INET6; });
  }
  if (out.empty()) return Status::Error("resolve " + Quote(h) + ": no address");
  return out;
}

Result<SocketAddress> ResolveBindAddress(std::string_view value, int family, int socktype) {
  std::string host(value), port = "0";
  if (!value.empty() && value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos)
      return Status::Error("bind: missing ']' in " + Quote(value));
    host = std::string(value.substr(1, close - 1));
    if (close + 1 < value.size()) {
      if (value[close + 1] != ':') return Status::Error("bind: bad address " + Quote(value));
      port = std::string(value.substr(close + 2));
    }
  } else {
    size_t colon = value.rfind(':');
    if (colon != std::string_view::npos && value.find(':') == colon) {
      host = std::string(value.substr(0, colon));
      port = std::string(value.substr(colon + 1));
    }
  }
  IpFamily f = family == AF_INET6  ? IpFamily::kIpv6
               : family == AF_INET ? IpFamily::kIpv4
                                   : IpFamily::kAny;
  auto resolved = ResolveInet(host, port, f, socktype, /*passive=*/true);
  if (!resolved.ok()) return resolved.status().Prefix("bind");
  return resolved->front();
}

namespace {

// One side of a socket in socat's environment formats: (address, port); the
// port is empty where the family has none.
std::pair<std::string, std::string> SocatFormat(const SocketAddress& a) {
  char buf[64];
  switch (a.family()) {
    case AF_INET: {
      auto* sin = reinterpret_cast<const sockaddr_in*>(&a.storage);
      inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
      return {buf, std::to_string(ntohs(sin->sin_port))};
    }
    case AF_INET6: {
      auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
      std::string port = std::to_string(ntohs(sin6->sin6_port));
      if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, sizeof buf);
        return {buf, port};
      }
      std::string text = "[";
      for (int i = 0; i < 16; i += 2) {
        snprintf(buf, sizeof buf, "%s%02x%02x", i ? ":" : "", sin6->sin6_addr.s6_addr[i],
                 sin6->sin6_addr.s6_addr[i + 1]);
        text += buf;
      }
      return {text + "]", port};
    }
    case AF_UNIX: {
      size_t path_bytes = a.length > offsetof(sockaddr_un, sun_path)
                              ? a.length - offsetof(sockaddr_un, sun_path)
                              : 0;
      return {path_bytes == 0 ? "<anon>" : a.ToString(), ""};
    }
    case AF_VSOCK: {
      auto* svm = reinterpret_cast<const sockaddr_vm*>(&a.storage);
      return {std::to_string(svm->svm_cid), std::to_string(svm->svm_port)};
    }
    default:
      return {"", ""};
  }
}

}  // namespace

std::vector<std::string> SocatPeerEnvironment(int fd) {
  std::vector<std::string> env;
  for (bool peer : {true, false}) {
    SocketAddress a;
    a.length = sizeof a.storage;
    int rc = peer ? getpeername(fd, a.get(), &a.length) : getsockname(fd, a.get(), &a.length);
    if (rc != 0) continue;
    auto [address, port] = SocatFormat(a);
    if (address.empty()) continue;
    const char* side = peer ? "SOCAT_PEER" : "SOCAT_SOCK";
    env.push_back(std::string(side) + "ADDR=" + address);
    if (!port.empty()) env.push_back(std::string(side) + "PORT=" + port);
  }
  return env;
}

}  // namespace vmcat

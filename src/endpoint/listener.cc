#include "endpoint/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "base/strings.h"
#include "endpoint/open.h"

namespace vmcat {

Result<std::unique_ptr<Listener>> Listener::Create(const SingleAddress& a, std::string name) {
  std::unique_ptr<Listener> l(new Listener(a, std::move(name)));
  const AddressOptions& o = a.options;
  bool datagram = a.IsDatagram();
  l->socktype_ = datagram ? SOCK_DGRAM : SOCK_STREAM;
  std::vector<SocketAddress> candidates;
  switch (a.type()) {
    case AddressType::kTcpListen:
    case AddressType::kUdpListen:
    case AddressType::kUdpRecvfrom: {
      std::string host;
      if (o.bind) host = *o.bind;
      VMCAT_ASSIGN_OR_RETURN(candidates,
                             ResolveInet(host, a.params[0], a.info->family, l->socktype_, true));
      break;
    }
    case AddressType::kUnixListen:
    case AddressType::kAbstractListen: {
      if (o.range) return Status::Error("range= needs an IP listener");
      bool abstract = a.type() == AddressType::kAbstractListen;
      VMCAT_ASSIGN_OR_RETURN(SocketAddress u, MakeUnixAddress(a.params[0], abstract));
      candidates.push_back(u);
      if (!abstract) {
        if (o.unlink_early) unlink(a.params[0].c_str());
        if (o.unlink_close.value_or(true)) l->unlink_path_ = a.params[0];
      }
      break;
    }
    case AddressType::kVsockListen:
      if (o.range) return Status::Error("range= needs an IP listener");
      candidates.push_back(MakeVsockAddress(static_cast<uint32_t>(-1) /* VMADDR_CID_ANY */,
                                            static_cast<uint32_t>(*ParseUnsigned(a.params[0]))));
      break;
    default:
      Fatal("Listener::Create: not a listening address");
  }

  Status last = Status::Error("no address to listen on");
  for (const SocketAddress& addr : candidates) {
    UniqueFd fd(socket(addr.family(), l->socktype_ | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
      last = Status::Errno("socket", errno);
      continue;
    }
    int one = 1;
    if (datagram) {
      // Per-peer sockets bind to the same port (see AcceptDatagram).
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (addr.family() == AF_INET6) {
      int zero = 0;  // accept IPv4 too when listening on the IPv6 wildcard
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    AddressOptions socket_options = o;
    socket_options.nodelay = false;  // applied to accepted sockets instead
    VMCAT_RETURN_IF_ERROR(ApplySocketOptions(fd.get(), socket_options, false));
    if (bind(fd.get(), addr.get(), addr.length) < 0) {
      last = Status::Errno("bind " + addr.ToString(), errno);
      if (errno == EADDRINUSE) break;  // the same on every candidate
      continue;
    }
    if (o.mode && addr.family() == AF_UNIX && a.type() == AddressType::kUnixListen &&
        chmod(a.params[0].c_str(), *o.mode) < 0) {
      return Status::Errno("chmod " + a.params[0], errno);
    }
    if (!datagram && listen(fd.get(), o.backlog.value_or(SOMAXCONN)) < 0) {
      last = Status::Errno("listen " + addr.ToString(), errno);
      continue;
    }
    l->fd_ = std::move(fd);
    l->local_ = addr;
    return l;
  }
  l->unlink_path_.clear();  // never remove a file that another process owns
  return last;
}

Listener::~Listener() {
  if (!unlink_path_.empty()) unlink(unlink_path_.c_str());
}

bool Listener::Refuses(const SocketAddress& remote) const {
  const std::optional<IpRange>& range = address_.options.range;
  if (!range || range->Contains(remote.get())) return false;
  LogWarning(name_ + ": refusing " + remote.ToString() + ": not in range=" + range->text);
  return true;
}

Result<std::unique_ptr<Endpoint>> Listener::Accept(std::string* peer) {
  if (socktype_ == SOCK_DGRAM) return AcceptDatagram(peer);
  SocketAddress remote;
  int fd = -1;
  do {  // past the peers range= refuses
    if (fd >= 0) close(fd);
    remote.length = sizeof remote.storage;
    fd = accept4(fd_.get(), remote.get(), &remote.length, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } while (fd >= 0 && Refuses(remote));
  if (fd < 0) {
    int err = errno;
    if (err == EAGAIN || err == EINTR || err == ECONNABORTED) {
      return std::unique_ptr<Endpoint>();
    }
    return Status::Errno("accept on " + local_.ToString(), err);
  }
  UniqueFd conn(fd);
  if (peer) *peer = remote.ToString();
  VMCAT_RETURN_IF_ERROR(
      ApplySocketOptions(fd, address_.options, address_.type() == AddressType::kTcpListen,
                         SocketOrigin::kAccepted));
  return std::make_unique<Endpoint>(name_, std::move(conn), FdKind::kStreamSocket);
}

// UDP has no connections: a datagram from a new peer starts a session on a
// new socket bound to the same port and connected to that peer, so that the
// kernel delivers the peer's later datagrams to it (connected sockets win
// over the unconnected one in a SO_REUSEPORT group).
Result<std::unique_ptr<Endpoint>> Listener::AcceptDatagram(std::string* peer) {
  char buf[65536];
  SocketAddress remote;
  remote.length = sizeof remote.storage;
  ssize_t n = recvfrom(fd_.get(), buf, sizeof buf, 0, remote.get(), &remote.length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return std::unique_ptr<Endpoint>();
    return Status::Errno("recvfrom on " + local_.ToString(), errno);
  }
  if (Refuses(remote)) return std::unique_ptr<Endpoint>();  // the datagram is dropped
  if (peer) *peer = remote.ToString();
  UniqueFd conn(socket(local_.family(), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!conn.valid()) return Status::Errno("socket", errno);
  int one = 1;
  setsockopt(conn.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(conn.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (local_.family() == AF_INET6) {
    int zero = 0;
    setsockopt(conn.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (bind(conn.get(), local_.get(), local_.length) < 0) {
    return Status::Errno("bind " + local_.ToString(), errno);
  }
  if (connect(conn.get(), remote.get(), remote.length) < 0) {
    return Status::Errno("connect " + remote.ToString(), errno);
  }
  auto e = std::make_unique<Endpoint>(name_, std::move(conn), FdKind::kDatagramSocket);
  e->initial_data().assign(buf, static_cast<size_t>(n));
  e->one_shot_read = address_.type() == AddressType::kUdpRecvfrom;
  return e;
}

}  // namespace vmcat

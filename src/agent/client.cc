#include "agent/client.h"

#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "agent/protocol.h"
#include "base/strings.h"
#include "endpoint/sockaddr.h"
#include "vm/conn.h"
#include "vm/control_client.h"

namespace vmcat {

namespace {

constexpr int kHandshakeTimeoutMs = 10000;

// Reads until one whole frame is decoded (the agent's HELLO).
Result<Frame> ReadFirstFrame(int fd, FrameDecoder* decoder, const std::string& what) {
  std::vector<Frame> frames;
  char buf[4096];
  while (frames.empty()) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, kHandshakeTimeoutMs);
    if (r == 0) return Status::Error(what + ": no greeting from the agent within 10 s");
    if (r < 0 && errno == EINTR) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errno(what + ": read", errno);
    if (n == 0) return Status::Error(what + ": the agent closed the connection");
    (void)decoder->Feed(std::string_view(buf, static_cast<size_t>(n)), &frames);
  }
  return std::move(frames.front());
}

Result<AgentConnection> ConnectDirect(const std::string& spec) {
  std::string target = spec;
  uint32_t port = kAgentVsockPort;
  size_t colon = spec.rfind(':');
  if (colon != std::string::npos) {
    auto p = ParseUnsigned(spec.substr(colon + 1), UINT32_MAX);
    if (!p) return Status::Error("--vsock " + Quote(spec) + ": bad port");
    port = static_cast<uint32_t>(*p);
    target = spec.substr(0, colon);
  }
  AgentConnection c;
  std::string what;
  if (target.find('/') != std::string::npos) {
    // Hybrid vsock: CONNECT <port>\n, then "OK ...\n".
    what = "hybrid vsock " + target + " port " + std::to_string(port);
    auto fd = ConnectUnixPath(target);
    if (!fd.ok()) return fd.status().Prefix(what);
    c.fd = std::move(fd).value();
    std::string req = "CONNECT " + std::to_string(port) + "\n";
    VMCAT_RETURN_IF_ERROR(WriteAll(c.fd.get(), req.data(), req.size()).Prefix(what));
    std::string line;
    char ch;
    while (line.size() < 256) {
      ssize_t n = read(c.fd.get(), &ch, 1);
      if (n <= 0) return Status::Error(what + ": refused (no agent listening on that port?)");
      if (ch == '\n') break;
      line += ch;
    }
    if (!StartsWith(line, "OK")) return Status::Error(what + ": unexpected reply " + Quote(line));
  } else {
    auto cid = ParseUnsigned(target, UINT32_MAX);
    if (!cid) return Status::Error("--vsock " + Quote(spec) + ": expected CID[:PORT] or a path");
    what = "vsock " + target + ":" + std::to_string(port);
    c.fd.reset(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!c.fd.valid()) return Status::Errno(what + ": socket", errno);
    SocketAddress addr = MakeVsockAddress(static_cast<uint32_t>(*cid), port);
    if (connect(c.fd.get(), addr.get(), addr.length) < 0) {
      return Status::Errno(what + ": connect", errno);
    }
  }
  FrameDecoder decoder;
  VMCAT_ASSIGN_OR_RETURN(Frame hello, ReadFirstFrame(c.fd.get(), &decoder, what));
  if (hello.type != MessageType::kHello) {
    return Status::Error(what + ": expected HELLO, got " + ToString(hello.type));
  }
  auto j = hello.JsonPayload();
  c.agent_version = j.ok() ? j->value("version", "") : "";
  std::string ours = EncodeJsonFrame(MessageType::kHello, 0,
                                     {{"protocol", kProtocolVersion},
                                      {"version", std::string("vmcat ") + VMCAT_VERSION},
                                      {"role", "host"}});
  VMCAT_RETURN_IF_ERROR(WriteAll(c.fd.get(), ours.data(), ours.size()).Prefix(what));
  return c;
}

}  // namespace

Result<AgentConnection> ConnectAgent(const AgentTarget& t) {
  if (!t.vsock.empty()) return ConnectDirect(t.vsock);
  auto paths = FindRunningVm(t.runtime_root, t.vm_name);
  if (!paths.ok()) return paths.status();
  ControlRequest req;
  req.op = ControlOp::kAgent;
  auto session = ControlCall(*paths, req);
  if (!session.ok()) return session.status();
  AgentConnection c;
  c.fd = std::move(session->fd);
  c.leftover = std::move(session->leftover);
  c.agent_version = session->reply.value("agent", "");
  return c;
}

}  // namespace vmcat

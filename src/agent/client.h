// Host side: reaching a guest agent, through the VM's supervisor (the
// virtio-serial channel) or directly over vsock (kernel AF_VSOCK, or a
// Firecracker / Cloud Hypervisor hybrid-vsock UNIX socket).
#pragma once

#include <string>

#include "base/fd.h"
#include "base/status.h"

namespace vmcat {

struct AgentTarget {
  std::string vm_name;  // through this VM's supervisor...
  std::string runtime_root;
  std::string vsock;  // ...or directly: "CID[:PORT]" or "/path/v.sock[:PORT]"
};

/// A connected stream that carries agent frames; `leftover` holds bytes
/// already read past the handshake.
struct AgentConnection {
  UniqueFd fd;
  std::string leftover;
  std::string agent_version;
};

/// Connects and completes the greeting. Errors say which channel failed and
/// why ("agent unreachable: ...", "vsock 3:5225: connect: Connection reset").
Result<AgentConnection> ConnectAgent(const AgentTarget& target);

}  // namespace vmcat

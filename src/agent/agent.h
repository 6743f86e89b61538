// Agent: the guest side of `vmcat exec` and `vmcat cp` (`vmcat agent`).
//
// It serves any number of links at once (the virtio-serial port, vsock
// connections); each link carries many sessions. A link that goes away takes
// its sessions with it (their programs get SIGHUP).
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>

#include "agent/link.h"
#include "agent/session.h"
#include "loop/loop.h"

namespace vmcat {

class Agent {
 public:
  explicit Agent(Loop* loop);
  ~Agent();

  /// Takes over a link and greets the other side with HELLO. `on_closed`
  /// runs once when the link ends.
  void Serve(std::unique_ptr<FrameLink> link, std::function<void(Status)> on_closed);
  size_t links() const { return links_.size(); }

 private:
  struct Link;
  class Port;
  void OnFrame(Link* link, Frame frame);
  void OpenSession(Link* link, const Frame& frame);
  void DropLink(Link* link, Status why);

  Loop* loop_;
  std::list<std::unique_ptr<Link>> links_;
};

/// A session factory for copy sessions, registered by the copy module so the
/// agent core does not depend on it. Returns null for types it does not know.
using CopySessionFactory = std::function<std::unique_ptr<AgentSession>(
    Loop* loop, SessionOutput* out, const Frame& opening)>;
void RegisterCopySessionFactory(CopySessionFactory factory);

}  // namespace vmcat

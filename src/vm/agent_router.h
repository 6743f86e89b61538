// AgentRouter: the supervisor's end of the guest agent channel.
//
// The agent speaks on one virtio-serial stream; many `vmcat exec`/`cp`
// clients connect to the supervisor at once. Each client connection is one
// session: the router gives it a session id, stamps that id on the frames
// the client sends, and passes the agent's frames for that id back. Flow
// control is end to end (client <-> agent), so the router buffers little.
#pragma once

#include <list>
#include <memory>
#include <string>

#include "agent/link.h"
#include "agent/protocol.h"
#include "loop/loop.h"
#include "vm/conn.h"

namespace vmcat {

class AgentRouter {
 public:
  /// The session id clients use and see: each connection is one session.
  static constexpr uint32_t kClientSession = 1;

  AgentRouter(Loop* loop, UniqueFd channel);
  ~AgentRouter();

  Status Start();
  /// True once the agent greeted us and its port is open.
  bool up() const { return up_; }
  const std::string& agent_version() const { return agent_version_; }
  /// Why the agent cannot be reached, for messages.
  std::string DownReason() const;

  /// QEMU reported the guest opening or closing the port (VSERPORT_CHANGE).
  void PortChanged(bool open);

  /// Takes over a control connection as one agent session. `pending` are
  /// bytes that came after the request line.
  void AddClient(std::unique_ptr<Conn> conn, std::string_view pending);
  size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    std::unique_ptr<Conn> conn;
    FrameDecoder decoder;
    uint32_t session;
  };
  void OnAgentFrame(Frame f);
  void OnClientData(Client* c, std::string_view bytes);
  void DropClient(Client* c, bool tell_agent);
  void FailAll(const std::string& why);
  Client* Find(uint32_t session);

  Loop* loop_;
  std::unique_ptr<FrameLink> link_;
  bool up_ = false;
  bool port_open_ = false;
  std::string agent_version_;
  std::string last_error_;
  uint32_t next_session_ = 1;
  std::list<std::unique_ptr<Client>> clients_;
};

}  // namespace vmcat

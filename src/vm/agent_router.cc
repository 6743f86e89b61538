#include "vm/agent_router.h"

#include "base/log.h"

namespace vmcat {

AgentRouter::AgentRouter(Loop* loop, UniqueFd channel)
    : loop_(loop), link_(std::make_unique<FrameLink>(loop, std::move(channel), "agent channel")) {}

AgentRouter::~AgentRouter() {
  clients_.clear();
}

Status AgentRouter::Start() {
  link_->on_frame = [this](Frame f) { OnAgentFrame(std::move(f)); };
  link_->on_closed = [this](Status s) {
    up_ = false;
    last_error_ = s.message();
    FailAll("the agent channel closed");
  };
  return link_->Start();
}

std::string AgentRouter::DownReason() const {
  if (link_->closed()) return "the agent channel is closed (" + last_error_ + ")";
  if (!port_open_ && !up_) {
    return "the guest has not opened the agent port org.vmcat.agent.0 (is `vmcat agent` running "
           "in the guest? the test image starts it with vmcat.agent=1)";
  }
  return "the agent has not said hello yet";
}

void AgentRouter::PortChanged(bool open) {
  port_open_ = open;
  if (!open) {
    if (up_) LogNotice("agent closed its port");
    up_ = false;
    FailAll("the agent closed its port (it exited or restarted)");
  }
}

AgentRouter::Client* AgentRouter::Find(uint32_t session) {
  for (auto& c : clients_) {
    if (c->session == session) return c.get();
  }
  return nullptr;
}

void AgentRouter::OnAgentFrame(Frame f) {
  if (f.type == MessageType::kHello) {
    auto j = f.JsonPayload();
    // A HELLO while sessions are open means the agent restarted: they are gone.
    if (up_) FailAll("the agent restarted");
    up_ = true;
    port_open_ = true;
    agent_version_ = j.ok() ? j->value("version", "") : "";
    LogNotice("agent connected: " + agent_version_);
    link_->SendJson(MessageType::kHello, 0,
                    {{"protocol", kProtocolVersion},
                     {"version", std::string("vmcat ") + VMCAT_VERSION},
                     {"role", "host"}});
    return;
  }
  Client* c = Find(f.session);
  if (c == nullptr) return;  // its client left; the agent was told (CLOSE)
  // A client sees its one session as session 1, whatever its id on the link.
  c->conn->Send(EncodeFrame(f.type, kClientSession, f.payload));
}

void AgentRouter::AddClient(std::unique_ptr<Conn> conn, std::string_view pending) {
  auto client = std::make_unique<Client>();
  Client* c = client.get();
  c->conn = std::move(conn);
  c->session = next_session_++;
  if (next_session_ == 0) next_session_ = 1;
  clients_.push_back(std::move(client));
  c->conn->on_data = [this, c](std::string_view bytes) { OnClientData(c, bytes); };
  c->conn->on_eof = [this, c] { loop_->Post([this, c] { DropClient(c, true); }); };
  c->conn->on_closed = [this, c](const std::string&) {
    loop_->Post([this, c] { DropClient(c, true); });
  };
  if (!pending.empty()) OnClientData(c, pending);
}

void AgentRouter::OnClientData(Client* c, std::string_view bytes) {
  std::vector<Frame> frames;
  Status s = c->decoder.Feed(bytes, &frames);
  if (!s.ok()) LogWarning("agent client: " + s.message());
  for (Frame& f : frames) {
    if (f.type == MessageType::kHello) continue;  // the supervisor did that
    link_->Send(EncodeFrame(f.type, c->session, f.payload));
  }
}

void AgentRouter::DropClient(Client* c, bool tell_agent) {
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->get() != c) continue;
    if (tell_agent && up_) link_->SendFrame(MessageType::kClose, c->session, "");
    std::unique_ptr<Client> doomed = std::move(*it);
    clients_.erase(it);
    doomed->conn->on_closed = nullptr;
    doomed->conn->Close("done");
    return;
  }
}

void AgentRouter::FailAll(const std::string& why) {
  for (auto& c : clients_) {
    c->conn->Send(EncodeJsonFrame(MessageType::kError, kClientSession, {{"message", why}}));
    c->conn->on_eof = nullptr;
    c->conn->CloseWhenFlushed();
  }
}

}  // namespace vmcat

#include "agent/agent.h"

#include "agent/exec_session.h"
#include "base/log.h"

namespace vmcat {

namespace {
CopySessionFactory& CopyFactory() {
  static CopySessionFactory factory;
  return factory;
}
}  // namespace

void RegisterCopySessionFactory(CopySessionFactory factory) {
  CopyFactory() = std::move(factory);
}

// Binds a session to its link and id.
class Agent::Port : public SessionOutput {
 public:
  Port(Agent* agent, Link* link, uint32_t id) : agent_(agent), link_(link), id_(id) {}
  void Send(MessageType type, std::string_view payload) override;
  void Finished() override;
  std::unique_ptr<AgentSession> session;

 private:
  Agent* agent_;
  Link* link_;
  uint32_t id_;
};

struct Agent::Link {
  std::unique_ptr<FrameLink> link;
  std::map<uint32_t, std::unique_ptr<Port>> sessions;
  std::function<void(Status)> on_closed;
};

void Agent::Port::Send(MessageType type, std::string_view payload) {
  link_->link->SendFrame(type, id_, payload);
}

void Agent::Port::Finished() {
  // Destroy on a later turn: the session is usually on the stack right now.
  Link* link = link_;
  uint32_t id = id_;
  Agent* agent = agent_;
  agent->loop_->Post([agent, link, id] {
    for (auto& l : agent->links_) {
      if (l.get() == link) {
        auto it = link->sessions.find(id);
        if (it != link->sessions.end() && it->second.get() != nullptr) link->sessions.erase(it);
        return;
      }
    }
  });
}

Agent::Agent(Loop* loop) : loop_(loop) {}

Agent::~Agent() {
  for (auto& l : links_) {
    for (auto& [id, port] : l->sessions) {
      if (port->session) port->session->Abort();
    }
    l->sessions.clear();
  }
}

void Agent::Serve(std::unique_ptr<FrameLink> link, std::function<void(Status)> on_closed) {
  auto l = std::make_unique<Link>();
  Link* raw = l.get();
  l->link = std::move(link);
  l->on_closed = std::move(on_closed);
  links_.push_back(std::move(l));
  raw->link->on_frame = [this, raw](Frame f) { OnFrame(raw, std::move(f)); };
  raw->link->on_closed = [this, raw](Status why) {
    loop_->Post([this, raw, why] { DropLink(raw, why); });
  };
  Status s = raw->link->Start();
  if (!s.ok()) {
    loop_->Post([this, raw, s] { DropLink(raw, s); });
    return;
  }
  raw->link->SendJson(MessageType::kHello, 0,
                      {{"protocol", kProtocolVersion},
                       {"version", std::string("vmcat ") + VMCAT_VERSION},
                       {"role", "agent"}});
}

void Agent::DropLink(Link* link, Status why) {
  for (auto it = links_.begin(); it != links_.end(); ++it) {
    if (it->get() != link) continue;
    LogNotice(link->link->name() + ": " + why.message());
    for (auto& [id, port] : link->sessions) {
      if (port->session) port->session->Abort();
    }
    std::unique_ptr<Link> doomed = std::move(*it);
    links_.erase(it);
    if (doomed->on_closed) doomed->on_closed(why);
    // Sessions' Finished() posted erasures for this link; they find it gone.
    doomed->sessions.clear();
    return;
  }
}

void Agent::OnFrame(Link* link, Frame f) {
  switch (f.type) {
    case MessageType::kHello: {
      auto j = f.JsonPayload();
      int version = j.ok() ? j->value("protocol", 0) : 0;
      if (version < 1) {
        LogWarning(link->link->name() + ": HELLO without a protocol version");
      }
      // The host (re)connected: whatever it had open is gone on its side.
      if (j.ok() && j->value("role", "") == "host") {
        for (auto& [id, port] : link->sessions) {
          if (port->session) port->session->Abort();
        }
      }
      return;
    }
    case MessageType::kPing:
      link->link->SendFrame(MessageType::kPong, f.session, f.payload);
      return;
    case MessageType::kExec:
    case MessageType::kCopyIn:
    case MessageType::kCopyOut:
      OpenSession(link, f);
      return;
    default:
      break;
  }
  auto it = link->sessions.find(f.session);
  if (it == link->sessions.end() || !it->second->session) {
    // Late frames for a finished session (credit, stdin) are harmless.
    bool late = f.type == MessageType::kWindow || f.type == MessageType::kStdin ||
                f.type == MessageType::kStdinEof || f.type == MessageType::kClose ||
                f.type == MessageType::kData || f.type == MessageType::kEntry ||
                f.type == MessageType::kEntryEnd || f.type == MessageType::kCopyEnd;
    if (!late) {
      link->link->SendJson(MessageType::kError, f.session,
                           {{"message", std::string("no session ") + std::to_string(f.session)}});
    }
    return;
  }
  if (f.type == MessageType::kClose) {
    it->second->session->Abort();
    return;
  }
  it->second->session->OnFrame(f);
}

void Agent::OpenSession(Link* link, const Frame& f) {
  if (f.session == 0 || link->sessions.count(f.session)) {
    link->link->SendJson(MessageType::kError, f.session,
                         {{"message", "session id " + std::to_string(f.session) + " is in use"}});
    return;
  }
  auto port = std::make_unique<Port>(this, link, f.session);
  Port* p = port.get();
  link->sessions[f.session] = std::move(port);
  if (f.type == MessageType::kExec) {
    auto j = f.JsonPayload();
    Result<ExecRequest> req = j.ok() ? ExecRequest::FromJson(*j) : Result<ExecRequest>(j.status());
    if (!req.ok()) {
      p->SendJson(MessageType::kError, {{"message", req.status().message()}});
      p->Finished();
      return;
    }
    auto session = std::make_unique<ExecSession>(loop_, p);
    ExecSession* raw = session.get();
    p->session = std::move(session);
    raw->Start(*req);
    return;
  }
  if (CopyFactory()) p->session = CopyFactory()(loop_, p, f);
  if (!p->session) {
    p->SendJson(MessageType::kError, {{"message", "this agent cannot copy files"}});
    p->Finished();
  }
}

}  // namespace vmcat

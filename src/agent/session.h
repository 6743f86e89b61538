// AgentSession: one exec or copy running inside the agent, fed with the
// frames of its session and answering through a SessionOutput.
#pragma once

#include <functional>
#include <string_view>

#include "agent/protocol.h"

namespace vmcat {

class SessionOutput {
 public:
  virtual ~SessionOutput() = default;
  virtual void Send(MessageType type, std::string_view payload) = 0;
  void SendJson(MessageType type, const Json& j) { Send(type, j.dump()); }
  /// The session is over; the agent destroys it on a later loop turn.
  virtual void Finished() = 0;
};

class AgentSession {
 public:
  virtual ~AgentSession() = default;
  virtual void OnFrame(const Frame& frame) = 0;
  /// The host abandoned the session (CLOSE) or the link went away.
  virtual void Abort() = 0;
};

}  // namespace vmcat

// Copy sessions (guest side of `vmcat cp`): COPY_IN runs a CopyReceiver into
// the guest's filesystem, COPY_OUT a CopySender out of it. With "user" in
// the opening, every filesystem call of the session is made as that guest
// user (its fsuid, fsgid and groups), so its permissions apply and the files
// it creates are its own; the agent itself stays root.
#pragma once

#include <memory>

#include "agent/session.h"
#include "loop/loop.h"

namespace vmcat {

/// Makes the agent serve COPY_IN and COPY_OUT. Call once, before serving.
void RegisterCopySessions();

/// The factory RegisterCopySessions() installs: null for other types. A
/// session that cannot start answers ERROR and finishes right away.
std::unique_ptr<AgentSession> MakeCopySession(Loop* loop, SessionOutput* out, const Frame& opening);

}  // namespace vmcat

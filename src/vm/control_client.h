// The CLI's side of the control protocol: find a VM and ask its supervisor.
#pragma once

#include <string>

#include "base/fd.h"
#include "vm/control_protocol.h"
#include "vm/runtime.h"

namespace vmcat {

/// The runtime paths of VM `name`, if its supervisor is alive. Otherwise a
/// clear error: unknown VM (and where we looked), or how it ended.
Result<VmPaths> FindRunningVm(const std::string& root, const std::string& name);

/// A control connection after its reply line: the reply and whatever bytes
/// followed it (the start of a stream).
struct ControlSession {
  UniqueFd fd;
  Json reply;
  std::string leftover;
};

/// Sends `request` and reads the reply line. A reply with "ok": false
/// becomes an error with the supervisor's message.
Result<ControlSession> ControlCall(const VmPaths& paths, const ControlRequest& request);

}  // namespace vmcat

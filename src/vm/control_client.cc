#include "vm/control_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "base/strings.h"
#include "vm/config.h"
#include "vm/conn.h"

namespace vmcat {

Result<VmPaths> FindRunningVm(const std::string& root, const std::string& name) {
  VMCAT_RETURN_IF_ERROR(ValidateVmName(name));
  VmPaths paths = VmPaths::For(root, name);
  if (SupervisorAlive(paths)) return paths;
  auto state = ReadState(paths.state);
  if (!state.ok()) {
    return Status::Error("no VM named " + Quote(name) + " (looked in " + root + ")");
  }
  std::string msg = "VM " + Quote(name) + " is not running";
  if (state->state == VmRunState::kStopped || state->state == VmRunState::kCrashed) {
    msg += " (" + std::string(ToString(state->state)) + ": " + state->reason + ")";
  } else {
    msg += " (its supervisor is gone)";
  }
  return Status::Error(msg);
}

Result<ControlSession> ControlCall(const VmPaths& paths, const ControlRequest& request) {
  auto fd = ConnectUnixPath(paths.ctl);
  if (!fd.ok()) return fd.status().Prefix("control socket");
  ControlSession s;
  s.fd = std::move(fd).value();
  std::string line = EncodeControlRequest(request);
  VMCAT_RETURN_IF_ERROR(WriteAll(s.fd.get(), line.data(), line.size()));
  std::string buf;
  char chunk[4096];
  size_t nl;
  while ((nl = buf.find('\n')) == std::string::npos) {
    ssize_t n = read(s.fd.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errno("read control socket", errno);
    if (n == 0) return Status::Error("the supervisor closed the connection without a reply");
    buf.append(chunk, static_cast<size_t>(n));
  }
  s.reply = Json::parse(buf.substr(0, nl), nullptr, false);
  s.leftover = buf.substr(nl + 1);
  if (s.reply.is_discarded() || !s.reply.is_object()) {
    return Status::Error("malformed reply from the supervisor");
  }
  if (!s.reply.value("ok", false)) return Status::Error(s.reply.value("error", "request failed"));
  return s;
}

}  // namespace vmcat

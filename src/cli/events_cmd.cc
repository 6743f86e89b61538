// `vmcat events NAME`: QMP events as JSON lines, live.
#include <unistd.h>

#include <cerrno>

#include "cli/command.h"
#include "cli/vm_cli.h"

namespace vmcat {
namespace {

int EventsMain(int argc, char** argv) {
  FlagSet flags("vmcat events NAME",
                "Prints the VM's QMP events (STOP, RESUME, SHUTDOWN, ...) as JSON lines as they\n"
                "happen, until the VM stops or you interrupt.");
  std::string runtime_dir;
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, 1, &positional);
  if (rc >= 0) return rc;
  auto paths = FindRunningVm(RuntimeRoot(runtime_dir), positional[0]);
  if (!paths.ok()) return Fail(paths.status());
  ControlRequest req;
  req.op = ControlOp::kEvents;
  auto session = ControlCall(*paths, req);
  if (!session.ok()) return Fail(session.status());
  return StreamToStdout(&*session);
}

}  // namespace

extern const Command kEventsCommand = {"events", "follow a VM's QMP events as JSON lines",
                                       EventsMain};

}  // namespace vmcat

// `vmcat stop NAME`: ACPI power-down, then quit, then kill.
#include <cstdio>

#include "cli/command.h"
#include "cli/vm_cli.h"

namespace vmcat {
namespace {

int StopMain(int argc, char** argv) {
  FlagSet flags("vmcat stop NAME [--timeout SECONDS] [--force]",
                "Presses the VM's power button (ACPI) and waits for the guest to power off;\n"
                "after the timeout QEMU is told to quit, and killed if it does not.");
  double timeout = 30;
  bool force = false;
  std::string runtime_dir;
  flags.Seconds("-t,--timeout", &timeout, "how long the guest may take (default 30)");
  flags.Bool("-f,--force", &force, "kill QEMU now");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, 1, &positional);
  if (rc >= 0) return rc;
  const std::string& name = positional[0];
  auto paths = FindRunningVm(RuntimeRoot(runtime_dir), name);
  if (!paths.ok()) return Fail(paths.status());
  ControlRequest req;
  req.op = ControlOp::kStop;
  req.timeout = timeout;
  req.force = force;
  auto session = ControlCall(*paths, req);
  if (!session.ok()) return Fail(session.status().Prefix("stop " + name));
  std::printf("%s %s: %s\n", name.c_str(), session->reply.value("state", "stopped").c_str(),
              session->reply.value("reason", "").c_str());
  return 0;
}

}  // namespace

extern const Command kStopCommand = {"stop", "power a VM off (ACPI, then quit, then kill)",
                                     StopMain};

}  // namespace vmcat

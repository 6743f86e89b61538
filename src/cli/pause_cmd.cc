// `vmcat pause NAME`: stop the VM's CPUs.
#include <cstdio>

#include "cli/command.h"
#include "cli/vm_cli.h"

namespace vmcat {

/// Shared by pause and resume: runs a QMP command without arguments.
int SimpleQmpCommand(int argc, char** argv, const char* qmp_command, const char* done_word,
                     const char* description) {
  FlagSet flags(std::string("vmcat ") + argv[0] + " NAME", description);
  std::string runtime_dir;
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, 1, &positional);
  if (rc >= 0) return rc;
  auto paths = FindRunningVm(RuntimeRoot(runtime_dir), positional[0]);
  if (!paths.ok()) return Fail(paths.status());
  ControlRequest req;
  req.op = ControlOp::kQmp;
  req.execute = qmp_command;
  auto session = ControlCall(*paths, req);
  if (!session.ok()) return Fail(session.status().Prefix(std::string(argv[0])));
  std::printf("%s %s\n", positional[0].c_str(), done_word);
  return 0;
}

namespace {
int PauseMain(int argc, char** argv) {
  return SimpleQmpCommand(argc, argv, "stop", "paused", "Pauses the VM's CPUs.");
}
}  // namespace

extern const Command kPauseCommand = {"pause", "pause a VM", PauseMain};

}  // namespace vmcat

// `vmcat supervise NAME` (internal): the per-VM supervisor that `vmcat up`
// starts in the background.
#include "base/log.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/config.h"
#include "vm/supervisor.h"

#include <fstream>
#include <sstream>

namespace vmcat {
namespace {

int SuperviseMain(int argc, char** argv) {
  FlagSet flags("vmcat supervise NAME --ready-fd FD",
                "Internal: runs a VM's supervisor (vmcat up starts it).");
  std::string runtime_dir, accel = "tcg";
  unsigned ready_fd = 0;
  flags.String("--accel", &accel, "kvm|tcg", "resolved accelerator");
  flags.Unsigned("--ready-fd", &ready_fd, "FD", "where to report readiness");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, 1, &positional);
  if (rc >= 0) return rc;
  // QEMU must not inherit it: `vmcat up` waits for its EOF too.
  SetCloseOnExec(static_cast<int>(ready_fd), true).ok();
  VmPaths paths = VmPaths::For(RuntimeRoot(runtime_dir), positional[0]);
  std::ifstream in(paths.config);
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  auto config = VmConfigFromJson(j);
  if (!config.ok()) {
    std::string msg = "ERR " + paths.config + ": " + config.status().message() + "\n";
    (void)WriteAll(static_cast<int>(ready_fd), msg.data(), msg.size());
    return 1;
  }
  SetLogVerbosity(2);
  return RunSupervisor(*config, paths, accel, static_cast<int>(ready_fd));
}

}  // namespace

extern const Command kSuperviseCommand = {"supervise", nullptr, SuperviseMain};

}  // namespace vmcat

// `vmcat rm NAME`: forget a stopped VM's record and logs.
#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/config.h"

namespace vmcat {
namespace {

int RmMain(int argc, char** argv) {
  FlagSet flags("vmcat rm NAME...", "Removes the records (state and logs) of stopped VMs.");
  std::string runtime_dir;
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, SIZE_MAX, &positional);
  if (rc >= 0) return rc;
  std::string root = RuntimeRoot(runtime_dir);
  int status = 0;
  for (const std::string& name : positional) {
    Status valid = ValidateVmName(name);
    if (!valid.ok()) {
      status = Fail(valid);
      continue;
    }
    VmPaths paths = VmPaths::For(root, name);
    if (SupervisorAlive(paths)) {
      status = Fail("VM " + Quote(name) + " is running; stop it first");
      continue;
    }
    if (!ReadState(paths.state).ok()) {
      status = Fail("no VM named " + Quote(name) + " (looked in " + root + ")");
      continue;
    }
    RemoveRuntimeFiles(paths, /*keep_logs=*/false);
  }
  return status;
}

}  // namespace

extern const Command kRmCommand = {"rm", "remove stopped VMs' records and logs", RmMain};

}  // namespace vmcat

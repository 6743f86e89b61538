// `vmcat qmp NAME COMMAND [ARGS-JSON]`: raw QMP.
#include <cstdio>

#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"

namespace vmcat {
namespace {

int QmpMain(int argc, char** argv) {
  FlagSet flags("vmcat qmp NAME COMMAND ['{\"arg\": ...}']",
                "Runs a QMP command through the VM's supervisor and prints its return value\n"
                "as JSON; exits 1 with QEMU's error class and description on failure.");
  std::string runtime_dir;
  bool pretty = false;
  flags.Bool("-p,--pretty", &pretty, "indent the JSON");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 2, 3, &positional);
  if (rc >= 0) return rc;
  ControlRequest req;
  req.op = ControlOp::kQmp;
  req.execute = positional[1];
  if (positional.size() == 3) {
    req.arguments = Json::parse(positional[2], nullptr, false);
    if (req.arguments.is_discarded() || !req.arguments.is_object()) {
      return Fail("qmp " + req.execute + ": arguments must be a JSON object, got " +
                  Quote(positional[2]));
    }
  }
  auto paths = FindRunningVm(RuntimeRoot(runtime_dir), positional[0]);
  if (!paths.ok()) return Fail(paths.status());
  auto session = ControlCall(*paths, req);
  if (!session.ok()) return Fail(session.status().Prefix("qmp " + req.execute));
  std::printf("%s\n", session->reply["return"].dump(pretty ? 2 : -1).c_str());
  return 0;
}

}  // namespace

extern const Command kQmpCommand = {"qmp", "run a raw QMP command", QmpMain};

}  // namespace vmcat

// `vmcat monitor NAME [COMMAND]`: the QEMU human monitor (HMP).
#include <unistd.h>

#include <cstdio>

#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/conn.h"

namespace vmcat {
namespace {

int MonitorMain(int argc, char** argv) {
  FlagSet flags("vmcat monitor NAME [COMMAND...]",
                "With COMMAND, runs one HMP command (e.g. 'info status', 'savevm s1') and prints\n"
                "its whole answer, however long it takes; exits 1 if QEMU reports an error.\n"
                "Without, opens an interactive monitor with line editing and history\n"
                "(Ctrl-D leaves; `quit` would stop the VM).");
  std::string runtime_dir;
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, SIZE_MAX, &positional);
  if (rc >= 0) return rc;
  const std::string& name = positional[0];
  auto paths = FindRunningVm(RuntimeRoot(runtime_dir), name);
  if (!paths.ok()) return Fail(paths.status());
  if (positional.size() == 1) {
    auto fd = ConnectUnixPath(paths->monitor);
    if (!fd.ok()) return Fail(fd.status());
    bool tty = isatty(STDIN_FILENO);
    return RelayStdioToSocket(tty ? "-,rawer" : "-", std::move(fd).value(), "", name + " monitor");
  }
  std::string command;
  for (size_t i = 1; i < positional.size(); ++i)
    command += (i > 1 ? " " : "") + positional[i];
  auto output = RunHmp(*paths, command);
  if (!output.ok()) return Fail(output.status().Prefix("monitor " + command));
  std::fputs(output->c_str(), stdout);
  return 0;
}

}  // namespace

extern const Command kMonitorCommand = {"monitor", "run QEMU monitor (HMP) commands", MonitorMain};

}  // namespace vmcat

// `vmcat logs NAME [-f]`: the serial log.
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"
#include "tty/query_filter.h"
#include "vm/serial_log.h"

namespace vmcat {
namespace {

int LogsMain(int argc, char** argv) {
  FlagSet flags("vmcat logs NAME [-f]",
                "Prints everything the VM's serial console printed (kept whether or not\n"
                "anyone was attached). With -f, keeps printing new output until the VM stops.\n"
                "On a terminal, questions the guest asked its terminal back then (such as a\n"
                "shell's cursor position request) are left out so that yours does not answer\n"
                "them; into a pipe or file the log is written byte for byte.");
  bool follow = false;
  std::string runtime_dir;
  flags.Bool("-f,--follow", &follow, "keep printing new output");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, 1, &positional);
  if (rc >= 0) return rc;
  const std::string& name = positional[0];
  TerminalQueryFilter query_filter;
  TerminalQueryFilter* filter = isatty(STDOUT_FILENO) ? &query_filter : nullptr;
  std::string root = RuntimeRoot(runtime_dir);
  auto paths = FindRunningVm(root, name);
  if (!paths.ok()) {
    // A stopped VM's logs stay readable.
    VmPaths p = VmPaths::For(root, name);
    auto text = RotatingLog::ReadAll(p.serial_log, 100);
    if (!text.ok()) return Fail(paths.status());
    std::string out = filter ? filter->Filter(*text) + filter->Finish() : *text;
    (void)WriteAll(STDOUT_FILENO, out.data(), out.size());
    return 0;
  }
  ControlRequest req;
  req.op = ControlOp::kLogs;
  req.follow = follow;
  auto session = ControlCall(*paths, req);
  if (!session.ok()) return Fail(session.status());
  return StreamToStdout(&*session, filter);
}

}  // namespace

extern const Command kLogsCommand = {"logs", "print a VM's serial console log", LogsMain};

}  // namespace vmcat

// `vmcat shell NAME`: an interactive login shell in the guest on a pty.
#include <unistd.h>

#include "agent/client.h"
#include "agent/protocol.h"
#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/runtime.h"

namespace vmcat {

int RunExec(const AgentTarget& target, ExecRequest request, bool forward_stdin,
            const std::string& what);

namespace {

int ShellMain(int argc, char** argv) {
  FlagSet flags("vmcat shell NAME [-u USER]",
                "Opens an interactive shell in the guest (through the agent, on a pty).");
  std::string runtime_dir, user, vsock, shell = "/bin/sh";
  flags.String("-u,--user", &user, "USER", "guest user");
  flags.String("--shell", &shell, "PATH", "the shell to run (default /bin/sh)");
  flags.String("--vsock", &vsock, "CID[:PORT]|PATH[:PORT]", "reach the agent over vsock");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, vsock.empty() ? 1 : 0, 1, &positional);
  if (rc >= 0) return rc;
  AgentTarget target{positional.empty() ? "" : positional[0], RuntimeRoot(runtime_dir), vsock};
  ExecRequest req;
  req.argv = {shell, "-l"};
  req.user = user;
  req.tty = isatty(STDIN_FILENO);
  if (const char* term = getenv("TERM")) req.env.push_back(std::string("TERM=") + term);
  return RunExec(target, std::move(req), /*forward_stdin=*/true,
                 "shell " + (target.vm_name.empty() ? vsock : target.vm_name));
}

}  // namespace

extern const Command kShellCommand = {"shell", "open an interactive shell in a VM's guest",
                                      ShellMain};

}  // namespace vmcat

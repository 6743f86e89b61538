// `vmcat exec NAME -- CMD ARGS...`: run a program in the guest, streaming.
#include <unistd.h>

#include "agent/client.h"
#include "agent/exec_client.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/runtime.h"

namespace vmcat {

/// Shared by exec and shell.
int RunExec(const AgentTarget& target, ExecRequest request, bool forward_stdin,
            const std::string& what) {
  auto conn = ConnectAgent(target);
  if (!conn.ok()) {
    Fail(conn.status().Prefix(what));
    return 255;  // like ssh: the command never ran
  }
  IgnoreSigpipe();
  Loop loop;
  // Nothing but our own session's frames follow the handshake, and none
  // before our EXEC: the connection's leftover bytes are empty.
  auto link = std::make_unique<FrameLink>(&loop, std::move(conn->fd), what);
  ExecClient client(&loop, std::move(link), std::move(request), forward_stdin, what);
  return client.Run();
}

namespace {

int ExecMain(int argc, char** argv) {
  FlagSet flags("vmcat exec [options] NAME -- CMD [ARGS...]",
                "Runs CMD in the VM's guest through the vmcat agent (no shell unless you run\n"
                "one), streaming stdin, stdout and stderr live and apart, and exits with CMD's\n"
                "exit status (128+N when a signal killed it, 127 when it does not exist).");
  bool interactive = false, tty = false;
  std::vector<std::string> env;
  std::string cwd, user, runtime_dir, vsock;
  flags.Bool("-i,--interactive", &interactive, "pass our stdin to CMD");
  flags.Bool("-t,--tty", &tty, "run CMD on a pseudo-terminal sized like ours");
  flags.Strings("-e,--env", &env, "K=V", "set an environment variable; repeatable");
  flags.String("-w,--workdir", &cwd, "DIR", "working directory in the guest");
  flags.String("-u,--user", &user, "USER", "run as this guest user (name or uid)");
  flags.String("--vsock", &vsock, "CID[:PORT]|PATH[:PORT]",
               "reach the agent directly over vsock (kernel CID or a hybrid-vsock socket)");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional, command;
  int rc = ParseCommandLine(&flags, argc, argv, 0, 1, &positional, &command);
  if (rc >= 0) return rc;
  if (positional.empty() && vsock.empty()) return Fail("exec: give a VM NAME (or --vsock)");
  if (command.empty()) return Fail("exec: give the command after -- (vmcat exec NAME -- CMD)");
  for (const std::string& kv : env) {
    if (kv.find('=') == std::string::npos || kv[0] == '=') {
      return Fail("exec: -e " + Quote(kv) + ": expected K=V");
    }
  }
  AgentTarget target{positional.empty() ? "" : positional[0], RuntimeRoot(runtime_dir), vsock};
  ExecRequest req;
  req.argv = command;
  req.env = env;
  req.cwd = cwd;
  req.user = user;
  req.tty = tty;
  std::string what = "exec " + (target.vm_name.empty() ? "vsock " + vsock : target.vm_name);
  return RunExec(target, std::move(req), interactive, what);
}

}  // namespace

extern const Command kExecCommand = {"exec", "run a command in a VM's guest (needs the agent)",
                                     ExecMain};

}  // namespace vmcat

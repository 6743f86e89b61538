// `vmcat cp SRC... DEST`: copy files and trees into or out of a guest.
#include "agent/client.h"
#include "agent/copy_client.h"
#include "cli/command.h"
#include "cli/cp_args.h"
#include "cli/vm_cli.h"
#include "vm/runtime.h"

namespace vmcat {
namespace {

int CpMain(int argc, char** argv) {
  FlagSet flags(
      "vmcat cp [options] SRC... NAME:/DEST  |  vmcat cp [options] NAME:/SRC... DEST",
      "Copies files, symlinks and directory trees (always recursively) into or out of the\n"
      "VM's guest through the vmcat agent, keeping permission bits and mtimes. As with\n"
      "cp -r: when DEST is an existing directory the sources go inside it, otherwise DEST\n"
      "is the new name (of a single source). Every file is checked with SHA-256 end to end\n"
      "and appears under its name only once complete; a failed copy leaves nothing\n"
      "half-written. FIFOs, sockets and devices inside a tree are skipped with a warning.\n"
      "Write a local name with a colon as ./a:b.");
  std::string runtime_dir, vsock, user;
  flags.String("-u,--user", &user, "USER",
               "in the guest, act as this user (name or uid): its permissions apply and new "
               "files are its own");
  flags.String("--vsock", &vsock, "CID[:PORT]|PATH[:PORT]",
               "reach the agent directly over vsock; guest paths are then written :/path");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 2, SIZE_MAX, &positional);
  if (rc >= 0) return rc;
  auto operands = ParseCopyOperands(positional, !vsock.empty());
  if (!operands.ok()) return Fail("cp: " + operands.status().message());

  CopyRequest request;
  request.into_guest = operands->into_guest;
  request.sources = operands->sources;
  request.dest = operands->dest;
  request.user = user;
  request.remote_prefix = operands->vm + ":";
  IgnoreSigpipe();
  Loop loop;
  CopyClient client(&loop, std::move(request));
  Status ready = client.Prepare();
  if (!ready.ok()) return Fail("cp: " + ready.message());

  AgentTarget target{operands->vm, RuntimeRoot(runtime_dir), vsock};
  auto conn = ConnectAgent(target);
  if (!conn.ok()) {
    // The message names the channel: the VM's supervisor, or the vsock address.
    return Fail("cp: " + (vsock.empty() ? operands->vm + ": " : "") + conn.status().message());
  }
  // Nothing but our own session's frames follow the handshake, and none
  // before our opening: the connection's leftover bytes are empty.
  auto link = std::make_unique<FrameLink>(&loop, std::move(conn->fd), "agent connection");
  return client.Run(std::move(link));
}

}  // namespace

extern const Command kCpCommand = {"cp", "copy files and trees into or out of a VM's guest",
                                   CpMain};

}  // namespace vmcat

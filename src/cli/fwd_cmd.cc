// `vmcat fwd NAME add|rm|ls [RULE]`: live host forwards on the user network.
#include <cstdio>

#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"

namespace vmcat {
namespace {

int FwdMain(int argc, char** argv) {
  FlagSet flags("vmcat fwd NAME add|rm|ls [RULE]",
                "Adds, removes or lists host port forwards of the VM's user-mode network while\n"
                "it runs. RULE is QEMU's hostfwd syntax: [tcp|udp]:[hostaddr]:hostport-\n"
                "[guestaddr]:guestport, e.g. tcp::10022-:22 (rm needs only the host part).");
  std::string runtime_dir, netdev;
  flags.String("--netdev", &netdev, "ID", "which user network (default: the first)");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 2, 3, &positional);
  if (rc >= 0) return rc;
  const std::string& name = positional[0];
  const std::string& action = positional[1];
  if (action != "add" && action != "rm" && action != "ls") {
    return Fail("fwd: unknown action " + Quote(action) + " (add, rm or ls)");
  }
  if ((action == "ls") != (positional.size() == 2)) {
    return Fail(action == "ls" ? "fwd ls takes no rule" : "fwd " + action + " needs a RULE");
  }
  std::string root = RuntimeRoot(runtime_dir);
  auto paths = FindRunningVm(root, name);
  if (!paths.ok()) return Fail(paths.status());
  auto state = ReadState(paths->state);
  if (!state.ok()) return Fail(state.status());
  if (netdev.empty()) {
    if (state->user_netdevs.empty()) {
      return Fail("VM " + Quote(name) +
                  " has no user-mode network (add --net user or a [[net]] type = \"user\")");
    }
    netdev = state->user_netdevs.front();
  }
  if (action == "ls") {
    auto out = RunHmp(*paths, "info usernet");
    if (!out.ok()) return Fail(out.status().Prefix("fwd ls"));
    // Keep the header and the HOST_FORWARD rows of `info usernet`.
    for (const std::string& line : Split(*out, '\n')) {
      if (line.find("HOST_FORWARD") != std::string::npos ||
          line.find("Protocol") != std::string::npos) {
        std::printf("%s\n", line.c_str());
      }
    }
    return 0;
  }
  std::string rule = positional[2];
  if (action == "rm") rule = rule.substr(0, rule.find('-'));  // the host part only
  std::string hmp = (action == "add" ? "hostfwd_add " : "hostfwd_remove ") + netdev + " " + rule;
  auto out = RunHmp(*paths, hmp);
  if (!out.ok()) return Fail(out.status().Prefix("fwd " + action + " " + positional[2]));
  // hostfwd_add prints nothing on success, hostfwd_remove "... removed";
  // anything else is QEMU's complaint.
  bool ok = action == "add" ? out->empty() : out->find(" removed") != std::string::npos;
  if (!ok) {
    std::string msg = *out;
    while (!msg.empty() && msg.back() == '\n')
      msg.pop_back();
    return Fail("fwd " + action + " " + positional[2] + ": " + msg);
  }
  return 0;
}

}  // namespace

extern const Command kFwdCommand = {"fwd", "add, remove or list live host port forwards", FwdMain};

}  // namespace vmcat

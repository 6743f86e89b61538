// `vmcat snapshot NAME save|load|ls|rm [TAG]`: internal qcow2 snapshots.
#include <cstdio>

#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"

namespace vmcat {
namespace {

int SnapshotMain(int argc, char** argv) {
  FlagSet flags("vmcat snapshot NAME save|load|rm TAG | ls",
                "Saves, loads, deletes or lists internal snapshots (RAM and disks) of a VM\n"
                "whose disks are qcow2. Start a VM from one with vmcat up --loadvm TAG.");
  std::string runtime_dir;
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 2, 3, &positional);
  if (rc >= 0) return rc;
  const std::string& name = positional[0];
  const std::string& action = positional[1];
  std::string hmp;
  if (action == "ls") {
    if (positional.size() != 2) return Fail("snapshot ls takes no TAG");
    hmp = "info snapshots";
  } else if (action == "save" || action == "load" || action == "rm") {
    if (positional.size() != 3) return Fail("snapshot " + action + " needs a TAG");
    const std::string& tag = positional[2];
    if (tag.empty() || tag.find_first_of(" \t\n") != std::string::npos) {
      return Fail("snapshot " + action + ": bad TAG " + Quote(tag));
    }
    hmp = (action == "save" ? "savevm " : action == "load" ? "loadvm " : "delvm ") + tag;
  } else {
    return Fail("snapshot: unknown action " + Quote(action) + " (save, load, rm or ls)");
  }
  auto paths = FindRunningVm(RuntimeRoot(runtime_dir), name);
  if (!paths.ok()) return Fail(paths.status());
  bool was_running = false;
  if (action == "load") {
    ControlRequest q;
    q.op = ControlOp::kQmp;
    q.execute = "query-status";
    auto st = ControlCall(*paths, q);
    was_running = st.ok() && st->reply["return"].value("running", false);
  }
  auto out = RunHmp(*paths, hmp);
  if (!out.ok() && action == "load" && was_running) {
    // QEMU stops the VM before loading and leaves it stopped when the load
    // fails; a failed load should not pause a running VM.
    ControlRequest cont;
    cont.op = ControlOp::kQmp;
    cont.execute = "cont";
    (void)ControlCall(*paths, cont);
  }
  if (!out.ok()) return Fail(out.status().Prefix("snapshot " + action));
  if (action == "ls") {
    std::fputs(out->c_str(), stdout);
  } else if (!out->empty()) {
    std::string msg = *out;
    while (!msg.empty() && msg.back() == '\n')
      msg.pop_back();
    return Fail("snapshot " + action + ": " + msg);
  }
  return 0;
}

}  // namespace

extern const Command kSnapshotCommand = {"snapshot", "save, load, list or delete snapshots",
                                         SnapshotMain};

}  // namespace vmcat

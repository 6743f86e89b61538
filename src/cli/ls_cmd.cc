// `vmcat ls`: the VMs and their states.
#include <time.h>

#include <cstdio>

#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/runtime.h"

namespace vmcat {
namespace {

// A record whose supervisor is gone but says it runs is stale: the VM died
// with its supervisor (QEMU gets SIGTERM when the supervisor dies).
void CleanStale(const VmPaths& paths, VmState* state) {
  bool says_alive = state->state != VmRunState::kStopped && state->state != VmRunState::kCrashed;
  if (!says_alive) return;
  state->state = VmRunState::kCrashed;
  state->reason = "its supervisor died (killed?); the VM went with it";
  state->ended_at = static_cast<int64_t>(time(nullptr));
  RemoveRuntimeFiles(paths, /*keep_logs=*/true);
  (void)WriteState(paths.state, *state);
}

int LsMain(int argc, char** argv) {
  FlagSet flags("vmcat ls [--json]", "Lists VMs: running, paused, stopped and crashed ones.");
  bool json = false;
  std::string runtime_dir;
  flags.Bool("--json", &json, "print a JSON array");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 0, 0, &positional);
  if (rc >= 0) return rc;
  std::string root = RuntimeRoot(runtime_dir);
  Json all = Json::array();
  int64_t now = static_cast<int64_t>(time(nullptr));
  if (!json) {
    std::printf("%-16s %-9s %-8s %-8s %-5s %s\n", "NAME", "STATE", "PID", "UPTIME", "ACCEL",
                "DIRECTORY");
  }
  for (const std::string& name : ListVmNames(root)) {
    VmPaths paths = VmPaths::For(root, name);
    auto state = ReadState(paths.state);
    if (!state.ok()) continue;  // not a VM directory (or being created)
    if (!SupervisorAlive(paths)) CleanStale(paths, &*state);
    bool live = state->state != VmRunState::kStopped && state->state != VmRunState::kCrashed;
    int64_t uptime = live ? now - state->started_at : 0;
    if (json) {
      Json j = state->ToJson();
      j["uptime_s"] = uptime;
      j["dir"] = paths.dir;
      if (live) {
        j["sockets"] = {
            {"control", paths.ctl}, {"serial", paths.serial}, {"monitor", paths.monitor}};
      }
      all.push_back(j);
      continue;
    }
    std::printf("%-16s %-9s %-8s %-8s %-5s %s\n", name.c_str(), ToString(state->state),
                live ? std::to_string(state->qemu_pid).c_str() : "-",
                live ? FormatDuration(uptime).c_str() : "-", state->accel.c_str(),
                paths.dir.c_str());
    if (!live && !state->reason.empty()) std::printf("  %s\n", state->reason.c_str());
  }
  if (json) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

}  // namespace

extern const Command kLsCommand = {"ls", "list VMs and their states", LsMain};

}  // namespace vmcat

// A VM's runtime directory and its persisted state.
//
//   <root>/<name>/            mode 0700
//     ctl.sock                supervisor control socket (vmcat's own protocol)
//     serial.sock             raw serial console (several viewers; socat-friendly)
//     monitor.sock            plain HMP monitor (socat - UNIX-CONNECT:monitor.sock works)
//     serial.log[.1 ...]      everything the guest printed, rotated
//     qemu.log                QEMU's stderr
//     supervisor.log          the supervisor's own diagnostics
//     state.json              name, state, pids, times, accelerator, how it ended
//     config.json             the definition the supervisor runs
//     lock                    flock()ed by the supervisor for its whole life
//
// The root is --runtime-dir or $VMCAT_RUNTIME_DIR if given, else /run/vmcat
// for root, else $XDG_RUNTIME_DIR/vmcat, else /tmp/vmcat-<uid>.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/status.h"
#include "qmp/qmp_codec.h"

namespace vmcat {

std::string RuntimeRoot(const std::string& override_dir);

struct VmPaths {
  std::string dir, ctl, serial, monitor, serial_log, qemu_log, supervisor_log, state, lock, config;
  static VmPaths For(const std::string& root, const std::string& name);
  /// Rotated serial log number `n` (0 is serial.log itself).
  std::string SerialLog(unsigned n) const;
};

/// Lifecycle states as shown by `vmcat ls`.
enum class VmRunState { kStarting, kRunning, kPaused, kStopping, kStopped, kCrashed };
const char* ToString(VmRunState state);
bool ParseRunState(const std::string& text, VmRunState* out);

struct VmState {
  std::string name;
  VmRunState state = VmRunState::kStarting;
  pid_t supervisor_pid = 0;
  pid_t qemu_pid = 0;
  int64_t started_at = 0;  // unix seconds
  int64_t ended_at = 0;
  std::string accel;
  std::string reason;                    // how it ended
  std::vector<std::string> last_stderr;  // QEMU's last stderr lines, for crashes
  std::string config_source;
  std::vector<std::string> user_netdevs;  // ids of user-mode netdevs (for fwd)
  bool agent = false;

  Json ToJson() const;
  static Result<VmState> FromJson(const Json& j);
};

/// Writes state.json via a temporary file and rename, so readers never see
/// a half-written file.
Status WriteState(const std::string& path, const VmState& state);
Result<VmState> ReadState(const std::string& path);

/// The supervisor's lock on its runtime directory.
class DirLock {
 public:
  /// Takes the lock without waiting; fails with a clear message if another
  /// live supervisor holds it.
  static Result<DirLock> Acquire(const std::string& path);
  DirLock() = default;
  DirLock(DirLock&&) = default;
  DirLock& operator=(DirLock&&) = default;

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

/// True when a live supervisor holds the directory's lock.
bool SupervisorAlive(const VmPaths& paths);

/// Creates the directory (and the root) with mode 0700.
Status MakeRuntimeDir(const VmPaths& paths);

/// Removes the sockets, lock and logs of a VM record (for `vmcat rm` and for
/// starting a VM anew over an old record).
void RemoveRuntimeFiles(const VmPaths& paths, bool keep_logs);

/// Names of the VMs that have a directory under `root`, sorted.
std::vector<std::string> ListVmNames(const std::string& root);

}  // namespace vmcat

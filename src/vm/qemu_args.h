// Building QEMU's command line from a VmConfig. Pure.
#pragma once

#include <string>
#include <vector>

#include "vm/config.h"

namespace vmcat {

/// Descriptors the supervisor passes to QEMU (already connected socketpairs).
struct QemuFds {
  int qmp = -1;     // QMP monitor, owned by the supervisor
  int serial = -1;  // first serial port (the console)
  int agent = -1;   // virtio-serial port org.vmcat.agent.0, if the agent is enabled
};

/// Name of the guest agent's virtio-serial port.
inline constexpr char kAgentPortName[] = "org.vmcat.agent.0";
/// QEMU's device id of that port (named in VSERPORT_CHANGE events).
inline constexpr char kAgentPortId[] = "vmcat-agent-port";

/// `accel` is the resolved accelerator ("kvm" or "tcg").
std::vector<std::string> BuildQemuArgs(const VmConfig& config, const std::string& accel,
                                       const QemuFds& fds);

/// "auto" becomes "kvm" only when the CPU advertises vmx/svm and /dev/kvm
/// opens read-write; otherwise "tcg". `cpuinfo` is /proc/cpuinfo's text.
std::string ResolveAccel(const std::string& wanted, const std::string& cpuinfo,
                         bool kvm_device_usable);

}  // namespace vmcat

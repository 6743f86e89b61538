// `vmcat up`: starts a VM under a background supervisor and waits until its
// QMP answers (or reports why QEMU would not start).
#pragma once

#include <string>

#include "vm/config.h"
#include "vm/runtime.h"

namespace vmcat {

/// Detects a running VM of the same name, cleans a stale record, creates the
/// runtime directory, forks the supervisor (which outlives this process) and
/// waits for it to report. Returns the VM's state once it runs.
Result<VmState> LaunchVm(const VmConfig& config, const std::string& runtime_root);

/// The accelerator "auto" means on this machine.
std::string DetectAccel(const std::string& wanted);

}  // namespace vmcat

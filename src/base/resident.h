// Keeping a long-lived process's resident set to what it uses.
#pragma once

#include "base/status.h"

namespace vmcat {

/// Unmaps from this process's page tables the pages of its own program text
/// (the executable, read-only mapping of /proc/self/exe), so that only code
/// that runs from now on is resident again. The pages stay in the page cache
/// (shared with every other vmcat process); touching them again costs a minor
/// fault. For a daemon after its start-up: vmcat is one static binary with
/// every command in it, and the kernel maps code in 64 KiB windows around
/// each fault, so start-up alone makes almost all of it resident.
/// Text is never written, so nothing is lost (a writable or relocated
/// mapping is never touched). Returns the bytes released.
Result<size_t> ReleaseProgramText();

}  // namespace vmcat

// The operands of `vmcat cp SRC... DEST`: which side is the guest's. Pure.
//
// A guest path is written NAME:/path (with --vsock, :/path). An operand is
// local when it has no colon, starts with "/" or ".", or has a "/" before
// its first colon; so a local file with a colon in its name is "./a:b".
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace vmcat {

struct CopyOperands {
  bool into_guest = false;
  std::string vm;  // empty with --vsock
  std::vector<std::string> sources;
  std::string dest;
};

/// Exactly one side must be the guest's: all sources local and DEST in the
/// guest, or all sources in one guest and DEST local. Guest paths must be
/// absolute.
Result<CopyOperands> ParseCopyOperands(const std::vector<std::string>& operands, bool vsock);

}  // namespace vmcat

// Guest users for the agent (exec -u, cp -u): /etc/passwd and /etc/group read
// directly, without NSS (the agent is a static binary; the test guest has no
// NSS modules anyway).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/status.h"

namespace vmcat {

struct GuestUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home = "/";
  std::vector<gid_t> groups;  // the primary group and the groups listing the user
};

/// Looks a user up by name or numeric uid (a uid without an entry is
/// accepted, with gid = uid). Fails with ENOENT for an unknown name.
Result<GuestUser> LookupGuestUser(const std::string& user,
                                  const std::string& passwd_path = "/etc/passwd",
                                  const std::string& group_path = "/etc/group");

}  // namespace vmcat

#include "agent/guest_user.h"

#include <cerrno>
#include <fstream>
#include <optional>

#include "base/strings.h"

namespace vmcat {

Result<GuestUser> LookupGuestUser(const std::string& user, const std::string& passwd_path,
                                  const std::string& group_path) {
  std::ifstream passwd(passwd_path);
  std::string line;
  std::optional<GuestUser> found;
  bool numeric = ParseUnsigned(user).has_value();
  while (!found && std::getline(passwd, line)) {
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 7 || (f[0] != user && !(numeric && f[2] == user))) continue;
    auto uid = ParseUnsigned(f[2], UINT32_MAX);
    auto gid = ParseUnsigned(f[3], UINT32_MAX);
    if (uid && gid) {
      found = GuestUser{f[0], static_cast<uid_t>(*uid), static_cast<gid_t>(*gid), f[5], {}};
    }
  }
  if (!found && numeric) {
    auto id = ParseUnsigned(user, UINT32_MAX);
    if (id) found = GuestUser{user, static_cast<uid_t>(*id), static_cast<gid_t>(*id), "/", {}};
  }
  if (!found) {
    return Status::ErrorWithErrno("no user " + Quote(user) + " in the guest's " + passwd_path,
                                  ENOENT);
  }
  found->groups.push_back(found->gid);
  std::ifstream group(group_path);
  while (std::getline(group, line)) {
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 4) continue;
    auto gid = ParseUnsigned(f[2], UINT32_MAX);
    if (!gid) continue;
    for (const std::string& member : Split(f[3], ',')) {
      if (member == found->name) found->groups.push_back(static_cast<gid_t>(*gid));
    }
  }
  return *found;
}

}  // namespace vmcat

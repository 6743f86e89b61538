#include "base/program.h"

#include <sys/stat.h>
#include <unistd.h>

#include "base/strings.h"

extern char** environ;

namespace vmcat {

std::string FindProgram(const std::string& name, const std::string& path_list) {
  if (name.find('/') != std::string::npos) return name;
  for (const std::string& dir : Split(path_list, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

std::vector<std::string> EnvironmentWith(const std::vector<std::string>& settings) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    env.emplace_back(*e);
  for (const std::string& kv : settings) {
    std::string key = kv.substr(0, kv.find('=') + 1);
    bool replaced = false;
    for (std::string& e : env) {
      if (e.compare(0, key.size(), key) == 0) {
        e = kv;
        replaced = true;
        break;
      }
    }
    if (!replaced) env.push_back(kv);
  }
  return env;
}

std::vector<char*> NullTerminated(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace vmcat

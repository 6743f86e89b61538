// What starting a program needs on the parent's side: execvp's PATH search
// and an environment with some variables set.
#pragma once

#include <string>
#include <vector>

namespace vmcat {

/// execvp's search: `name` itself when it contains a '/', else the first
/// executable regular file named `name` in the ':'-separated `path_list` (an
/// empty entry is the current directory). Empty when there is none.
std::string FindProgram(const std::string& name, const std::string& path_list);

/// This process's environment with each "NAME=value" of `settings` set, in
/// order: replacing the variable where it exists, appended where not.
std::vector<std::string> EnvironmentWith(const std::vector<std::string>& settings);

/// Pointers to `strings` followed by a null pointer, as execve wants them.
/// Valid while `strings` is neither changed nor destroyed.
std::vector<char*> NullTerminated(std::vector<std::string>& strings);

}  // namespace vmcat

// FlagSet: GNU-style flags for vmcat's subcommands (--name value,
// --name=value, -n value, grouped short booleans, "--" ends flags), with a
// generated --help. Pure: no I/O. (The relay keeps socat's own syntax.)
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace vmcat {

class FlagSet {
 public:
  /// `usage` is the synopsis after "Usage: ", `description` a paragraph.
  FlagSet(std::string usage, std::string description);

  /// `names` is "-f,--force" or "--timeout".
  void Bool(const std::string& names, bool* out, const std::string& help);
  void String(const std::string& names, std::string* out, const std::string& metavar,
              const std::string& help);
  void Strings(const std::string& names, std::vector<std::string>* out, const std::string& metavar,
               const std::string& help);
  void Seconds(const std::string& names, double* out, const std::string& help);
  void Unsigned(const std::string& names, unsigned* out, const std::string& metavar,
                const std::string& help);

  /// Parses args (without the program/subcommand name). Non-flag words go to
  /// `positional`; everything after "--" goes to `rest` (or to `positional`
  /// when `rest` is null).
  Status Parse(const std::vector<std::string>& args, std::vector<std::string>* positional,
               std::vector<std::string>* rest = nullptr);
  bool help() const { return help_; }
  std::string Help() const;

 private:
  struct Flag {
    std::vector<std::string> names;
    std::string metavar;  // empty: boolean
    std::string help;
    std::function<Status(const std::string&)> set;
  };
  const Flag* Find(const std::string& name) const;
  void Add(const std::string& names, std::string metavar, std::string help,
           std::function<Status(const std::string&)> set);

  std::string usage_;
  std::string description_;
  std::vector<Flag> flags_;
  bool help_ = false;
};

}  // namespace vmcat

// The subcommand table: each src/cli/<name>_cmd.cc defines one Command.
#pragma once

#include <string_view>

namespace vmcat {

struct Command {
  const char* name;
  const char* summary;                 // one line for `vmcat --help`
  int (*main)(int argc, char** argv);  // argv[0] is the subcommand name
};

/// All subcommands, in help order.
const Command* const* AllCommands();

}  // namespace vmcat

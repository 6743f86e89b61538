// vmcat: one tool for headless VMs and the sockets around them.
#include <cstdio>
#include <cstring>

#include "cli/command.h"

namespace vmcat {

extern const Command kRelayCommand, kUpCommand, kLsCommand, kConsoleCommand, kLogsCommand,
    kMonitorCommand, kQmpCommand, kEventsCommand, kStopCommand, kPauseCommand, kResumeCommand,
    kFwdCommand, kSnapshotCommand, kRmCommand, kSuperviseCommand, kExecCommand, kShellCommand,
    kCpCommand, kWaitCommand, kAgentCommand;

const Command* const* AllCommands() {
  static const Command* const kCommands[] = {
      &kRelayCommand,   &kUpCommand,  &kLsCommand,       &kConsoleCommand, &kLogsCommand,
      &kMonitorCommand, &kQmpCommand, &kEventsCommand,   &kStopCommand,    &kPauseCommand,
      &kResumeCommand,  &kFwdCommand, &kSnapshotCommand, &kRmCommand,      &kExecCommand,
      &kShellCommand,   &kCpCommand,  &kWaitCommand,     &kAgentCommand,   &kSuperviseCommand,
      nullptr};
  return kCommands;
}

namespace {

void PrintHelp(FILE* out) {
  std::fprintf(out, "Usage: vmcat COMMAND [ARGS...]\n\nCommands:\n");
  for (const Command* const* c = AllCommands(); *c != nullptr; ++c) {
    if ((*c)->summary == nullptr) continue;  // internal
    std::fprintf(out, "  %-10s %s\n", (*c)->name, (*c)->summary);
  }
  std::fprintf(out, "\nRun `vmcat COMMAND --help` for a command's options.\n");
}

}  // namespace
}  // namespace vmcat

int main(int argc, char** argv) {
  using namespace vmcat;
  if (argc < 2) {
    PrintHelp(stderr);
    return 2;
  }
  const char* name = argv[1];
  if (std::strcmp(name, "-h") == 0 || std::strcmp(name, "--help") == 0 ||
      std::strcmp(name, "help") == 0) {
    PrintHelp(stdout);
    return 0;
  }
  if (std::strcmp(name, "-V") == 0 || std::strcmp(name, "--version") == 0) {
    std::printf("vmcat %s\n", VMCAT_VERSION);
    return 0;
  }
  for (const Command* const* c = AllCommands(); *c != nullptr; ++c) {
    if (std::strcmp((*c)->name, name) == 0) return (*c)->main(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "vmcat: unknown command \"%s\" (see vmcat --help)\n", name);
  return 2;
}

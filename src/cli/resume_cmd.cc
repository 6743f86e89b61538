// `vmcat resume NAME`: let a paused VM run again.
#include "cli/command.h"

namespace vmcat {

int SimpleQmpCommand(int argc, char** argv, const char* qmp_command, const char* done_word,
                     const char* description);

namespace {
int ResumeMain(int argc, char** argv) {
  return SimpleQmpCommand(argc, argv, "cont", "resumed", "Resumes a paused VM.");
}
}  // namespace

extern const Command kResumeCommand = {"resume", "resume a paused VM", ResumeMain};

}  // namespace vmcat

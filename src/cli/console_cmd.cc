// `vmcat console NAME`: the serial console in raw terminal mode.
#include <unistd.h>

#include <cstdio>

#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"

namespace vmcat {
namespace {

int ConsoleMain(int argc, char** argv) {
  FlagSet flags("vmcat console NAME [--force] [--escape CHAR] [--no-history]",
                "Attaches to a VM's serial console. What the guest printed recently is shown\n"
                "first. Ctrl-] detaches. Several viewers may attach; one has the keyboard.");
  bool force = false, no_history = false;
  std::string escape = "0x1d", runtime_dir;
  flags.Bool("-f,--force", &force, "take the keyboard from another viewer");
  flags.String("-e,--escape", &escape, "CHAR",
               "detach key: a byte value (0x1d) or ^X notation (default ^])");
  flags.Bool("--no-history", &no_history, "do not replay recent output");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 1, 1, &positional);
  if (rc >= 0) return rc;
  unsigned escape_byte;
  if (escape.size() == 2 && escape[0] == '^') {
    escape_byte = static_cast<unsigned>(ToUpper(escape.substr(1))[0]) ^ 0x40;
  } else if (auto n = ParseUnsigned(escape, 255)) {
    escape_byte = static_cast<unsigned>(*n);
  } else {
    return Fail("--escape: expected a byte such as 0x1d or ^], got " + Quote(escape));
  }
  const std::string& name = positional[0];
  auto paths = FindRunningVm(RuntimeRoot(runtime_dir), name);
  if (!paths.ok()) return Fail(paths.status());
  ControlRequest req;
  req.op = ControlOp::kConsole;
  req.force = force;
  req.history = !no_history;
  auto session = ControlCall(*paths, req);
  if (!session.ok()) return Fail(session.status());
  bool keyboard = session->reply.value("keyboard", false);
  bool tty = isatty(STDIN_FILENO);
  if (tty) {
    char key[8];
    std::snprintf(
        key, sizeof key, escape_byte < 0x20 ? "^%c" : "0x%02x",
        escape_byte < 0x20 ? static_cast<int>(escape_byte + 0x40) : static_cast<int>(escape_byte));
    std::fprintf(stderr, "[vmcat: console of %s; %s detaches%s]\r\n", name.c_str(), key,
                 keyboard ? "" : "; read-only: another viewer has the keyboard (use --force)");
  }
  char address[64];
  std::snprintf(address, sizeof address, "-,rawer,escape=%u", escape_byte);
  rc = RelayStdioToSocket(tty ? address : "-", std::move(session->fd), std::move(session->leftover),
                          name + " console");
  if (tty) std::fprintf(stderr, "\r\n[vmcat: detached from %s]\n", name.c_str());
  return rc;
}

}  // namespace

extern const Command kConsoleCommand = {"console", "attach to a VM's serial console", ConsoleMain};

}  // namespace vmcat

#include "cli/vm_cli.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>

#include "address/address.h"
#include "base/log.h"
#include "endpoint/open.h"
#include "loop/loop.h"
#include "relay/relay.h"

namespace vmcat {

int Fail(const Status& status) {
  return Fail(status.message());
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "vmcat: %s\n", message.c_str());
  return 1;
}

void AddRuntimeDirFlag(FlagSet* flags, std::string* dir) {
  flags->String("--runtime-dir", dir, "DIR",
                "where VM runtime directories live (default: $VMCAT_RUNTIME_DIR, /run/vmcat as "
                "root, else $XDG_RUNTIME_DIR/vmcat)");
}

int ParseCommandLine(FlagSet* flags, int argc, char** argv, size_t min_positional,
                     size_t max_positional, std::vector<std::string>* positional,
                     std::vector<std::string>* rest) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Status s = flags->Parse(args, positional, rest);
  if (!s.ok()) return Fail(s.message() + " (see vmcat " + argv[0] + " --help)");
  if (flags->help()) {
    std::fputs(flags->Help().c_str(), stdout);
    return 0;
  }
  if (positional->size() < min_positional || positional->size() > max_positional) {
    return Fail("wrong number of arguments (see vmcat " + std::string(argv[0]) + " --help)");
  }
  return -1;
}

int RelayStdioToSocket(const std::string& stdio_address, UniqueFd socket, std::string leftover,
                       const std::string& socket_name) {
  auto stdio_spec = ParseAddress(stdio_address);
  auto socket_spec = ParseAddress("UNIX-CONNECT:" + socket_name);
  if (!stdio_spec.ok() || !socket_spec.ok()) return Fail("internal address error");
  IgnoreSigpipe();
  Loop loop;
  int exit_code = 0;
  Status stdio_ok;
  std::unique_ptr<Relay> relay;
  std::unique_ptr<OpenOperation> op = StartOpen(
      &loop, *stdio_spec, "standard I/O", Access::kBoth, [&](Result<std::unique_ptr<Endpoint>> r) {
        if (!r.ok()) {
          stdio_ok = r.status();
          loop.Stop();
          return;
        }
        (void)SetNonBlocking(socket.get(), true);
        auto remote =
            std::make_unique<Endpoint>(socket_name, std::move(socket), FdKind::kStreamSocket);
        remote->initial_data() = std::move(leftover);
        RelayOptions options;
        relay = std::make_unique<Relay>(&loop, options, std::move(r).value(), *stdio_spec,
                                        std::move(remote), *socket_spec, [&](Status s) {
                                          if (!s.ok()) {
                                            LogError(s.message());
                                            exit_code = 1;
                                          }
                                          loop.Stop();
                                        });
        Status started = relay->Start();
        if (!started.ok()) {
          stdio_ok = started;
          loop.Stop();
        }
      });
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) {
    (void)loop.WatchSignal(sig, [&](int s) {
      exit_code = 128 + s;
      loop.Stop();
    });
  }
  (void)loop.Run();
  relay.reset();  // restores the terminal
  if (!stdio_ok.ok()) return Fail(stdio_ok);
  return exit_code;
}

int StreamToStdout(ControlSession* session, TerminalQueryFilter* filter) {
  auto write_out = [filter](std::string_view data) {
    if (filter == nullptr) return WriteAll(STDOUT_FILENO, data.data(), data.size());
    std::string kept = filter->Filter(data);
    return WriteAll(STDOUT_FILENO, kept.data(), kept.size());
  };
  Status s = write_out(session->leftover);
  char buf[65536];
  while (s.ok()) {
    ssize_t n = read(session->fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s = write_out(std::string_view(buf, static_cast<size_t>(n)));
  }
  if (s.ok() && filter != nullptr) {
    std::string rest = filter->Finish();
    s = WriteAll(STDOUT_FILENO, rest.data(), rest.size());
  }
  if (!s.ok() && s.sys_errno() != EPIPE) return Fail(s.Prefix("stdout"));
  return 0;
}

Result<std::string> RunHmp(const VmPaths& paths, const std::string& command) {
  ControlRequest req;
  req.op = ControlOp::kHmp;
  req.command = command;
  auto session = ControlCall(paths, req);
  if (!session.ok()) return session.status();
  std::string raw = session->reply.value("output", ""), out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    out += raw[i];
  }
  if (HmpOutputLooksLikeError(out)) {
    while (!out.empty() && out.back() == '\n')
      out.pop_back();
    return Status::Error(out);
  }
  return out;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

std::string FormatDuration(int64_t s) {
  if (s < 0) s = 0;
  char buf[32];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

}  // namespace vmcat

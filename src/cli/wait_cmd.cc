// `vmcat wait NAME`: wait until the guest agent answers.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/client.h"
#include "agent/protocol.h"
#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/runtime.h"

namespace vmcat {
namespace {

// One PING over a fresh connection; OK when the PONG comes back.
Status PingOnce(const AgentTarget& target, int timeout_ms) {
  auto conn = ConnectAgent(target);
  if (!conn.ok()) return conn.status();
  std::string ping = EncodeFrame(MessageType::kPing, 1, "vmcat wait");
  VMCAT_RETURN_IF_ERROR(WriteAll(conn->fd.get(), ping.data(), ping.size()));
  FrameDecoder decoder;
  std::vector<Frame> frames;
  (void)decoder.Feed(conn->leftover, &frames);
  char buf[4096];
  while (true) {
    for (const Frame& f : frames) {
      if (f.type == MessageType::kPong) return Status::Ok();
      if (f.type == MessageType::kError) return Status::Error("the agent answered with an error");
    }
    frames.clear();
    pollfd p{conn->fd.get(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return Status::Error("no answer to a ping");
    ssize_t n = read(conn->fd.get(), buf, sizeof buf);
    if (n <= 0) return Status::Error("the connection closed before the answer");
    (void)decoder.Feed(std::string_view(buf, static_cast<size_t>(n)), &frames);
  }
}

int WaitMain(int argc, char** argv) {
  FlagSet flags("vmcat wait NAME [--timeout SECONDS]",
                "Waits until the VM's guest agent answers (after boot, or an agent restart).");
  double timeout = 60;
  std::string runtime_dir, vsock;
  flags.Seconds("-t,--timeout", &timeout, "give up after this long (default 60)");
  flags.String("--vsock", &vsock, "CID[:PORT]|PATH[:PORT]", "reach the agent over vsock");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, vsock.empty() ? 1 : 0, 1, &positional);
  if (rc >= 0) return rc;
  AgentTarget target{positional.empty() ? "" : positional[0], RuntimeRoot(runtime_dir), vsock};
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  Status last;
  while (true) {
    last = PingOnce(target, 2000);
    if (last.ok()) return 0;
    // A VM that is not running at all will not come up by waiting.
    if (last.message().find("not running") != std::string::npos ||
        last.message().find("no VM named") != std::string::npos ||
        last.message().find("without the agent") != std::string::npos) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Fail("wait: " + last.message());
}

}  // namespace

extern const Command kWaitCommand = {"wait", "wait until a VM's guest agent answers", WaitMain};

}  // namespace vmcat

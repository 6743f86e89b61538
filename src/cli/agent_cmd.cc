// `vmcat agent`: the guest agent (runs inside the VM).
#include <dirent.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "agent/agent.h"
#include "agent/copy_session.h"
#include "agent/protocol.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/vm_cli.h"
#include "endpoint/sockaddr.h"

namespace vmcat {
namespace {

constexpr char kPortName[] = "org.vmcat.agent.0";
constexpr auto kReopenDelay = std::chrono::seconds(1);

// /dev/virtio-ports/<name> is made by udev; without udev, find the port by
// its name in sysfs.
std::string FindPort(const std::string& wanted) {
  std::string link = "/dev/virtio-ports/" + wanted;
  if (access(link.c_str(), F_OK) == 0) return link;
  DIR* d = opendir("/sys/class/virtio-ports");
  if (d == nullptr) return "";
  std::string found;
  while (dirent* e = readdir(d)) {
    std::string dev = e->d_name;
    if (dev[0] == '.') continue;
    std::ifstream in("/sys/class/virtio-ports/" + dev + "/name");
    std::string name;
    std::getline(in, name);
    if (name == wanted) found = "/dev/" + dev;
  }
  closedir(d);
  return found;
}

class AgentServer : public IoHandler {
 public:
  AgentServer(Loop* loop, std::string port, uint32_t vsock_port)
      : loop_(loop), agent_(loop), port_(std::move(port)), vsock_port_(vsock_port) {}

  Status Start() {
    bool any = false;
    if (port_ != "none") any = OpenPort(/*quiet=*/false) || !port_.empty();
    if (vsock_port_ != 0) {
      UniqueFd fd(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      SocketAddress addr = MakeVsockAddress(VMADDR_CID_ANY, vsock_port_);
      if (!fd.valid()) {
        LogWarning("vsock: socket: " + std::string(strerror(errno)) + " (no vsock; serving " +
                   "the virtio-serial port only)");
      } else if (bind(fd.get(), addr.get(), addr.length) < 0 || listen(fd.get(), 16) < 0) {
        LogWarning("vsock port " + std::to_string(vsock_port_) + ": " + strerror(errno));
      } else {
        VMCAT_RETURN_IF_ERROR(loop_->Add(fd.get(), EPOLLIN, this));
        vsock_ = std::move(fd);
        LogNotice("listening on vsock port " + std::to_string(vsock_port_));
        any = true;
      }
    }
    if (!any) {
      return Status::Error("no channel to serve: no virtio-serial port " + std::string(kPortName) +
                           " and no vsock");
    }
    return Status::Ok();
  }

  void OnIo(int fd, uint32_t events) override {
    while (true) {
      int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c < 0) return;
      agent_.Serve(std::make_unique<FrameLink>(loop_, UniqueFd(c), "vsock connection"),
                   [](Status) {});
    }
  }

 private:
  // The port disappears and reappears with the host side; keep trying.
  bool OpenPort(bool quiet) {
    std::string path = port_.empty() ? FindPort(kPortName) : port_;
    UniqueFd fd;
    if (!path.empty()) fd.reset(open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
      if (!quiet) {
        LogWarning(path.empty() ? std::string("no virtio-serial port named ") + kPortName
                                : "open " + path + ": " + strerror(errno));
      }
      if (!path.empty() || port_.empty()) ScheduleReopen();
      return false;
    }
    LogNotice("serving " + path);
    agent_.Serve(std::make_unique<FrameLink>(loop_, std::move(fd), path),
                 [this](Status) { ScheduleReopen(); });
    return true;
  }

  void ScheduleReopen() {
    loop_->AddTimer(kReopenDelay, [this] { OpenPort(/*quiet=*/true); });
  }

  Loop* loop_;
  Agent agent_;
  std::string port_;
  uint32_t vsock_port_;
  UniqueFd vsock_;
};

int AgentMain(int argc, char** argv) {
  FlagSet flags("vmcat agent [--port PATH] [--vsock-port N]",
                "The guest agent: serves vmcat exec and vmcat cp from inside the VM, on the\n"
                "virtio-serial port org.vmcat.agent.0 and on vsock, whichever exist.");
  std::string port;
  unsigned vsock_port = kAgentVsockPort;
  int verbosity = 1;
  bool verbose = false;
  flags.String("--port", &port, "PATH",
               "the virtio-serial port device, or none (default: find "
               "org.vmcat.agent.0)");
  flags.Unsigned("--vsock-port", &vsock_port, "N",
                 "vsock port to listen on, 0 for none (default 5225)");
  flags.Bool("-v,--verbose", &verbose, "log more");
  std::vector<std::string> positional;
  int rc = ParseCommandLine(&flags, argc, argv, 0, 0, &positional);
  if (rc >= 0) return rc;
  SetLogVerbosity(verbose ? 3 : verbosity + 1);
  IgnoreSigpipe();
  RegisterCopySessions();
  Loop loop;
  AgentServer server(&loop, port, vsock_port);
  Status s = server.Start();
  if (!s.ok()) return Fail(s);
  for (int sig : {SIGTERM, SIGINT}) {
    (void)loop.WatchSignal(sig, [&loop](int) { loop.Stop(); });
  }
  (void)loop.Run();
  return 0;
}

}  // namespace

extern const Command kAgentCommand = {"agent", "the guest agent (run inside a VM)", AgentMain};

}  // namespace vmcat

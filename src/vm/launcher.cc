#include "vm/launcher.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "base/strings.h"
#include "vm/qemu_args.h"

namespace vmcat {

std::string DetectAccel(const std::string& wanted) {
  std::ifstream in("/proc/cpuinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  bool usable = fd >= 0;
  if (fd >= 0) close(fd);
  return ResolveAccel(wanted, ss.str(), usable);
}

Result<VmState> LaunchVm(const VmConfig& config, const std::string& root) {
  VmPaths paths = VmPaths::For(root, config.name);
  if (SupervisorAlive(paths)) {
    auto st = ReadState(paths.state);
    std::string pid = st.ok() ? " (supervisor pid " + std::to_string(st->supervisor_pid) + ")" : "";
    return Status::Error("VM " + Quote(config.name) + " is already running" + pid);
  }
  VMCAT_RETURN_IF_ERROR(CheckVmFiles(config));
  // A previous run's record (stopped, crashed, or left by a killed
  // supervisor) is replaced by the new one.
  RemoveRuntimeFiles(paths, /*keep_logs=*/false);
  VMCAT_RETURN_IF_ERROR(MakeRuntimeDir(paths));
  std::string accel = DetectAccel(config.accel);
  {
    // The supervisor is a fresh exec of this binary (a small process that
    // touches only what it needs); it reads its definition from here.
    std::string text = VmConfigToJson(config).dump(2) + "\n";
    UniqueFd f(open(paths.config.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!f.valid()) return Status::Errno("open " + paths.config, errno);
    VMCAT_RETURN_IF_ERROR(WriteAll(f.get(), text.data(), text.size()));
  }
  char self[4096];
  ssize_t self_len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (self_len < 0) return Status::Errno("readlink /proc/self/exe", errno);
  self[self_len] = '\0';

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return Status::Errno("pipe", errno);
  UniqueFd ready_read(ready[0]), ready_write(ready[1]);
  pid_t child = fork();
  if (child < 0) return Status::Errno("fork", errno);
  if (child == 0) {
    // Detach: new session, then fork again so the supervisor is not a session
    // leader and gets adopted by init when we return.
    ready_read.reset();
    setsid();
    pid_t grandchild = fork();
    if (grandchild != 0) _exit(grandchild < 0 ? 1 : 0);
    int devnull = open("/dev/null", O_RDWR);
    int log = open(paths.supervisor_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    dup2(devnull, 0);
    dup2(log >= 0 ? log : devnull, 1);
    dup2(log >= 0 ? log : devnull, 2);
    if (chdir("/") < 0) _exit(1);
    int ready_fd = ready_write.release();
    SetCloseOnExec(ready_fd, false).ok();
    std::string fd_arg = std::to_string(ready_fd);
    execl(self, "vmcat", "supervise", "--runtime-dir", root.c_str(), "--accel", accel.c_str(),
          "--ready-fd", fd_arg.c_str(), config.name.c_str(), static_cast<char*>(nullptr));
    std::string msg = "ERR exec " + std::string(self) + ": " + strerror(errno) + "\n";
    (void)WriteAll(ready_fd, msg.data(), msg.size());
    _exit(127);
  }
  ready_write.reset();
  waitpid(child, nullptr, 0);
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    ssize_t n = read(ready_read.get(), buf, sizeof buf);
    if (n > 0) {
      reply.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (StartsWith(reply, "OK")) return ReadState(paths.state);
  if (StartsWith(reply, "ERR ")) {
    std::string msg = reply.substr(4);
    while (!msg.empty() && msg.back() == '\n')
      msg.pop_back();
    return Status::Error(msg);
  }
  return Status::Error("the supervisor died while starting; see " + paths.supervisor_log);
}

}  // namespace vmcat

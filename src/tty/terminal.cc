#include "tty/terminal.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace vmcat {

namespace {

void SetFlag(tcflag_t* field, tcflag_t bits, const std::optional<bool>& on) {
  if (!on) return;
  if (*on) {
    *field |= bits;
  } else {
    *field &= ~bits;
  }
}

// Async-signal-safe emergency restore: a fixed table read by the crash handler.
constexpr int kMaxGuards = 8;
struct Slot {
  volatile sig_atomic_t used;
  int fd;
  struct termios saved;
};
Slot g_slots[kMaxGuards];
// File status flags (O_NONBLOCK) of inherited descriptors, restored the same
// way. A relay process has few (stdin, stdout, FD:n), never one per session.
constexpr int kMaxFlags = 16;
struct FlagsSlot {
  volatile sig_atomic_t used;
  int fd;
  int flags;
};
FlagsSlot g_flags[kMaxFlags];
bool g_crash_handlers_installed = false;

// Only async-signal-safe calls here: tcsetattr and fcntl on fixed tables.
void CrashRestore(int signo) {
  for (Slot& slot : g_slots) {
    if (slot.used) tcsetattr(slot.fd, TCSANOW, &slot.saved);
  }
  for (FlagsSlot& slot : g_flags) {
    if (slot.used) fcntl(slot.fd, F_SETFL, slot.flags);
  }
  signal(signo, SIG_DFL);
  raise(signo);
}

void InstallCrashHandlers() {
  if (g_crash_handlers_installed) return;
  g_crash_handlers_installed = true;
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) {
    struct sigaction sa {};
    sa.sa_handler = CrashRestore;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigaction(sig, &sa, nullptr);
  }
}

// Opens the slave side of pty master `master_fd` without making it our
// controlling terminal. The caller must close it soon: an open slave keeps the
// master from reading EIO when the program on the pty exits.
UniqueFd OpenPtySlave(int master_fd) {
  constexpr int kFlags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
  // TIOCGPTPEER needs no path lookup (a container's /dev/pts may differ).
  int fd = ioctl(master_fd, TIOCGPTPEER, kFlags);
  if (fd >= 0) return UniqueFd(fd);
  char path[128];
  if (ptsname_r(master_fd, path, sizeof path) != 0) return UniqueFd();
  return UniqueFd(open(path, kFlags));
}

bool ReadSmallFile(const std::string& path, std::string* out) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  char buf[512];
  ssize_t n = read(fd.get(), buf, sizeof buf - 1);
  if (n < 0) return false;
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

struct ProcInfo {
  pid_t pid;
  pid_t ppid;
  pid_t pgrp;
  char state;
};

// Every process's parent, process group and state, from /proc/<pid>/stat.
bool ListProcesses(std::vector<ProcInfo>* out) {
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return false;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string stat;
    if (!ReadSmallFile(std::string("/proc/") + e->d_name + "/stat", &stat)) continue;
    // The command name is in parentheses and may contain anything.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (sscanf(stat.c_str() + close + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3) continue;
    out->push_back(
        {static_cast<pid_t>(pid), static_cast<pid_t>(ppid), static_cast<pid_t>(pgrp), state});
  }
  closedir(dir);
  return true;
}

bool IsTerminal(const std::string& path, dev_t tty) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == tty;
}

enum class Awaits { kYes, kNo, kUnknown };

// Whether process `pid` sleeps waiting for input from terminal `tty`.
Awaits ProcessAwaitsTerminal(pid_t pid, dev_t tty) {
  std::string base = "/proc/" + std::to_string(pid);
  std::string text;
  // Readable for our own descendants; another user's (su, sudo) are not.
  if (!ReadSmallFile(base + "/syscall", &text)) return Awaits::kUnknown;
  char* end = nullptr;
  long nr = strtol(text.c_str(), &end, 10);
  if (end == text.c_str()) return Awaits::kNo;  // "running"
  switch (nr) {
    case SYS_read:
    case SYS_readv:
    case SYS_pread64: {
      unsigned long fd = strtoul(end, nullptr, 16);
      return IsTerminal(base + "/fd/" + std::to_string(fd), tty) ? Awaits::kYes : Awaits::kNo;
    }
#ifdef SYS_select
    case SYS_select:
#endif
#ifdef SYS_poll
    case SYS_poll:
#endif
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_pselect6:
    case SYS_ppoll:
    case SYS_epoll_pwait: {
      // Which descriptors it waits for is in its memory; holding the
      // terminal open is close enough (readline waits in pselect6 on stdin).
      DIR* dir = opendir((base + "/fd").c_str());
      if (dir == nullptr) return Awaits::kUnknown;
      Awaits result = Awaits::kNo;
      while (dirent* e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        if (IsTerminal(base + "/fd/" + e->d_name, tty)) {
          result = Awaits::kYes;
          break;
        }
      }
      closedir(dir);
      return result;
    }
    default:
      return Awaits::kNo;
  }
}

}  // namespace

Result<PtyPair> OpenPtyPair() {
  UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) return Status::Errno("posix_openpt", errno);
  if (grantpt(master.get()) < 0) return Status::Errno("grantpt", errno);
  if (unlockpt(master.get()) < 0) return Status::Errno("unlockpt", errno);
  char path[128];
  if (ptsname_r(master.get(), path, sizeof path) != 0) return Status::Errno("ptsname", errno);
  UniqueFd slave(open(path, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid()) return Status::Errno(std::string("open ") + path, errno);
  return PtyPair{std::move(master), std::move(slave), path};
}

Status SetTermios(int fd, const TermiosSettings& settings) {
  struct termios t;
  if (tcgetattr(fd, &t) < 0) return Status::Errno("tcgetattr", errno);
  t = ApplyTermiosSettings(t, settings);
  if (tcsetattr(fd, TCSANOW, &t) < 0) return Status::Errno("tcsetattr", errno);
  return Status::Ok();
}

struct termios ApplyTermiosSettings(const struct termios& base, const TermiosSettings& s) {
  struct termios t = base;
  if (s.sane) {
    t.c_iflag = BRKINT | ICRNL | IXON | IMAXBEL | IUTF8;
    t.c_oflag = OPOST | ONLCR;
    t.c_cflag = (t.c_cflag & (CBAUD | CSIZE | CLOCAL)) | CREAD;
    if ((t.c_cflag & CSIZE) == 0) t.c_cflag |= CS8;
    t.c_lflag = ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
    t.c_cc[VINTR] = 0x03;
    t.c_cc[VQUIT] = 0x1c;
    t.c_cc[VERASE] = 0x7f;
    t.c_cc[VKILL] = 0x15;
    t.c_cc[VEOF] = 0x04;
    t.c_cc[VSTART] = 0x11;
    t.c_cc[VSTOP] = 0x13;
    t.c_cc[VSUSP] = 0x1a;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
  }
  if (s.raw || s.rawer) {
    cfmakeraw(&t);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
  }
  if (s.rawer) t.c_oflag &= ~ONLCR;  // as socat's rawer: no trace of output processing
  SetFlag(&t.c_lflag, ECHO, s.echo);
  SetFlag(&t.c_lflag, ICANON, s.icanon);
  SetFlag(&t.c_lflag, ISIG, s.isig);
  SetFlag(&t.c_lflag, IEXTEN, s.iexten);
  SetFlag(&t.c_lflag, ECHOE, s.echoe);
  SetFlag(&t.c_lflag, ECHOK, s.echok);
  SetFlag(&t.c_lflag, ECHOCTL, s.echoctl);
  SetFlag(&t.c_iflag, ICRNL, s.icrnl);
  SetFlag(&t.c_iflag, INLCR, s.inlcr);
  SetFlag(&t.c_iflag, IGNCR, s.igncr);
  SetFlag(&t.c_iflag, IXON, s.ixon);
  SetFlag(&t.c_iflag, IXOFF, s.ixoff);
  SetFlag(&t.c_oflag, ONLCR, s.onlcr);
  SetFlag(&t.c_oflag, OPOST, s.opost);
  SetFlag(&t.c_cflag, CRTSCTS, s.crtscts);
  SetFlag(&t.c_cflag, PARENB, s.parenb);
  SetFlag(&t.c_cflag, PARODD, s.parodd);
  SetFlag(&t.c_cflag, CSTOPB, s.cstopb);
  SetFlag(&t.c_cflag, CLOCAL, s.clocal);
  SetFlag(&t.c_cflag, HUPCL, s.hupcl);
  SetFlag(&t.c_cflag, CREAD, s.cread);
  if (s.csize) t.c_cflag = (t.c_cflag & ~CSIZE) | *s.csize;
  if (s.ispeed) cfsetispeed(&t, *s.ispeed);
  if (s.ospeed) cfsetospeed(&t, *s.ospeed);
  if (s.vmin) t.c_cc[VMIN] = *s.vmin;
  if (s.vtime) t.c_cc[VTIME] = *s.vtime;
  // With canonical mode off, make reads return as soon as one byte arrives
  // unless the user chose otherwise (socat's icanon=0 behaves this way).
  if (s.icanon.has_value() && !*s.icanon && !s.vmin && !s.raw && !s.rawer) {
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
  }
  return t;
}

Result<std::unique_ptr<TerminalGuard>> TerminalGuard::Apply(int fd,
                                                            const TermiosSettings& settings) {
  struct termios saved;
  if (tcgetattr(fd, &saved) < 0) return Status::Errno("tcgetattr", errno);
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (dup < 0) return Status::Errno("dup", errno);
  std::unique_ptr<TerminalGuard> guard(new TerminalGuard(UniqueFd(dup), saved));
  struct termios wanted = ApplyTermiosSettings(saved, settings);
  if (tcsetattr(fd, TCSADRAIN, &wanted) < 0) return Status::Errno("tcsetattr", errno);
  return guard;
}

TerminalGuard::TerminalGuard(UniqueFd fd, const struct termios& saved)
    : fd_(std::move(fd)), saved_(saved) {
  InstallCrashHandlers();
  for (int i = 0; i < kMaxGuards; ++i) {
    if (!g_slots[i].used) {
      g_slots[i].fd = fd_.get();
      g_slots[i].saved = saved_;
      g_slots[i].used = 1;
      slot_ = i;
      break;
    }
  }
}

void TerminalGuard::Restore() {
  if (restored_) return;
  restored_ = true;
  tcsetattr(fd_.get(), TCSADRAIN, &saved_);
  if (slot_ >= 0) g_slots[slot_].used = 0;
}

TerminalGuard::~TerminalGuard() {
  Restore();
}

int RestoreFlagsOnCrash(int fd, int flags) {
  InstallCrashHandlers();
  for (int i = 0; i < kMaxFlags; ++i) {
    if (!g_flags[i].used) {
      g_flags[i].fd = fd;
      g_flags[i].flags = flags;
      g_flags[i].used = 1;
      return i;
    }
  }
  return -1;
}

void ForgetCrashFlags(int slot) {
  if (slot >= 0 && slot < kMaxFlags) g_flags[slot].used = 0;
}

std::optional<int> PtyUnreadInput(int master_fd) {
  // TIOCINQ on the master counts the other direction (the program's output):
  // the program's unread input is counted on the slave.
  UniqueFd slave = OpenPtySlave(master_fd);
  if (!slave.valid()) return std::nullopt;
  int n = 0;
  if (ioctl(slave.get(), TIOCINQ, &n) != 0) return std::nullopt;
  return n;
}

bool PtyProgramAwaitsInput(int master_fd, pid_t child) {
  dev_t tty;
  {
    UniqueFd slave = OpenPtySlave(master_fd);
    struct stat st;
    if (!slave.valid() || fstat(slave.get(), &st) != 0) return true;
    tty = st.st_rdev;
  }
  std::vector<ProcInfo> procs;
  if (!ListProcesses(&procs)) return true;
  // With job control the terminal's foreground process group is what reads
  // it (a shell's running job, or the shell itself at its prompt). Without a
  // controlling terminal, any process of the program's tree may.
  pid_t foreground = 0;
  if (ioctl(master_fd, TIOCGPGRP, &foreground) != 0) foreground = 0;
  std::vector<pid_t> candidates;
  if (foreground > 0) {
    for (const ProcInfo& p : procs) {
      if (p.pgrp == foreground) candidates.push_back(p.pid);
    }
    if (candidates.empty()) return false;  // the group is changing: look again later
  } else {
    candidates.push_back(child);
    for (size_t i = 0; i < candidates.size(); ++i) {
      for (const ProcInfo& p : procs) {
        if (p.ppid == candidates[i]) candidates.push_back(p.pid);
      }
    }
  }
  bool unknown = false;
  for (pid_t pid : candidates) {
    const ProcInfo* info = nullptr;
    for (const ProcInfo& p : procs) {
      if (p.pid == pid) info = &p;
    }
    if (info == nullptr) {
      if (pid == child) unknown = true;  // not in /proc: cannot tell
      continue;
    }
    if (info->state != 'S') continue;  // running, stopped or a zombie: not waiting
    switch (ProcessAwaitsTerminal(pid, tty)) {
      case Awaits::kYes:
        return true;
      case Awaits::kUnknown:
        unknown = true;
        break;
      case Awaits::kNo:
        break;
    }
  }
  return unknown;
}

}  // namespace vmcat

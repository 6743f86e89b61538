#include "tty/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <memory>

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
bool g_crash_handlers_installed = false;

void CrashRestore(int signo) {
  for (Slot& slot : g_slots) {
    if (slot.used) tcsetattr(slot.fd, TCSANOW, &slot.saved);
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

}  // namespace

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

}  // namespace vmcat

#include "endpoint/endpoint.h"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vmcat {

namespace {
// Bytes written to a pty master reach the line discipline a moment after
// write() returns; until then an empty input queue proves nothing.
constexpr auto kPtySettle = std::chrono::milliseconds(5);
}  // namespace

const char* ToString(FdKind kind) {
  switch (kind) {
    case FdKind::kStreamSocket:
      return "stream socket";
    case FdKind::kDatagramSocket:
      return "datagram socket";
    case FdKind::kPipe:
      return "pipe";
    case FdKind::kTty:
      return "terminal";
    case FdKind::kFile:
      return "file";
    case FdKind::kCharDev:
      return "character device";
  }
  return "?";
}

FdKind ClassifyFd(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return FdKind::kCharDev;
  if (S_ISSOCK(st.st_mode)) {
    int type = 0;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    return type == SOCK_DGRAM ? FdKind::kDatagramSocket : FdKind::kStreamSocket;
  }
  if (S_ISFIFO(st.st_mode)) return FdKind::kPipe;
  if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return FdKind::kFile;
  if (isatty(fd)) return FdKind::kTty;
  return FdKind::kCharDev;
}

FlagsGuard::FlagsGuard(int fd) : fd_(fd), flags_(fcntl(fd, F_GETFL)) {
  if (flags_ < 0) {
    fd_ = -1;
    return;
  }
  crash_slot_ = RestoreFlagsOnCrash(fd_, flags_);
}

FlagsGuard::FlagsGuard(FlagsGuard&& other) noexcept
    : fd_(other.fd_), flags_(other.flags_), crash_slot_(other.crash_slot_) {
  other.fd_ = -1;
  other.crash_slot_ = -1;
}

FlagsGuard& FlagsGuard::operator=(FlagsGuard&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) fcntl(fd_, F_SETFL, flags_);
    ForgetCrashFlags(crash_slot_);
    fd_ = other.fd_;
    flags_ = other.flags_;
    crash_slot_ = other.crash_slot_;
    other.fd_ = -1;
    other.crash_slot_ = -1;
  }
  return *this;
}

FlagsGuard::~FlagsGuard() {
  if (fd_ >= 0) fcntl(fd_, F_SETFL, flags_);
  ForgetCrashFlags(crash_slot_);
}

void FlagsGuard::Dismiss() {
  ForgetCrashFlags(crash_slot_);
  crash_slot_ = -1;
  fd_ = -1;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

ChildProcess::~ChildProcess() {
  if (exited_ || pid_ <= 0) return;
  // A child on a pty that leads its own process group (setsid, setpgid) gets
  // what a terminal hang-up sends: an interactive shell ignores SIGTERM but
  // ends on SIGHUP, passing it on to its jobs; the whole group gets it (the
  // commands of a shell without job control are in it), and SIGCONT wakes a
  // stopped one so that it sees it. A child in our own process group gets
  // SIGTERM: bash would pass a SIGHUP on to its jobs' process group, which is
  // then ours, and end this process too. Such a shell has no terminal to hang
  // up; it ends when it next reads the closed pty.
  if (on_terminal_ && getpgid(pid_) == pid_) {
    kill(-pid_, SIGHUP);
    kill(-pid_, SIGCONT);
    return;
  }
  kill(pid_, SIGTERM);
}

Endpoint::Endpoint(std::string name, UniqueFd fd, FdKind kind)
    : name_(std::move(name)), fd_(std::move(fd)), read_kind_(kind), write_kind_(kind) {}

Endpoint::Endpoint(std::string name, UniqueFd read_fd, FdKind read_kind, UniqueFd write_fd,
                   FdKind write_kind)
    : name_(std::move(name)),
      read_fd_(std::move(read_fd)),
      write_fd_(std::move(write_fd)),
      read_kind_(read_kind),
      write_kind_(write_kind) {}

std::unique_ptr<Endpoint> Endpoint::Combine(std::string name, std::unique_ptr<Endpoint> reader,
                                            std::unique_ptr<Endpoint> writer) {
  auto e = std::make_unique<Endpoint>(std::move(name), UniqueFd(), reader->read_kind());
  e->write_kind_ = writer->write_kind();
  e->reader_ = std::move(reader);
  e->writer_ = std::move(writer);
  return e;
}

int Endpoint::read_fd() const {
  if (reader_) return reader_->read_fd();
  return read_fd_.valid() ? read_fd_.get() : fd_.get();
}

int Endpoint::write_fd() const {
  if (writer_) return writer_->write_fd();
  if (write_closed_) return -1;
  return write_fd_.valid() ? write_fd_.get() : fd_.get();
}

void Endpoint::set_child(std::unique_ptr<ChildProcess> child) {
  child_ = std::move(child);
  if (child_ && read_kind_ == FdKind::kTty) child_->set_on_terminal(true);
}

ChildProcess* Endpoint::child() const {
  if (reader_) return reader_->child() ? reader_->child() : writer_->child();
  return child_.get();
}

std::vector<ChildProcess*> Endpoint::children() const {
  std::vector<ChildProcess*> out;
  if (child_) out.push_back(child_.get());
  if (reader_ && reader_->child()) out.push_back(reader_->child());
  if (writer_ && writer_->child()) out.push_back(writer_->child());
  return out;
}

Endpoint::~Endpoint() {
  // Restore inherited descriptors' flags while they are still open.
  flags_guards_.clear();
  if (!unlink_path_.empty()) unlink(unlink_path_.c_str());
}

void Endpoint::add_flags_guard(FlagsGuard g) {
  flags_guards_.push_back(std::move(g));
}

void Endpoint::ReleaseFlagsGuard(int fd, int other_fd) {
  bool shared = false;
  if (other_fd >= 0) {
    // kcmp: 0 = same open file description, 1 or 2 = different, -1 = unknown.
    shared = syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, fd, other_fd) <= 0;
  }
  for (auto it = flags_guards_.begin(); it != flags_guards_.end(); ++it) {
    if (it->fd() == fd) {
      // When shared, the other descriptor's guard restores the flags later.
      if (shared) it->Dismiss();
      flags_guards_.erase(it);
      return;
    }
  }
}

void Endpoint::NoteWritten(const char* data, size_t n) {
  if (writer_) return writer_->NoteWritten(data, n);
  if (n == 0) return;
  last_written_newline_ = data[n - 1] == '\n';
  if (write_kind_ == FdKind::kTty) last_written_ = std::chrono::steady_clock::now();
}

Result<CloseWriteState> Endpoint::CloseWrite() {
  if (writer_) return writer_->CloseWrite();
  if (write_closed_) return CloseWriteState::kClosed;
  if (write_fd_.valid()) {
    write_closed_ = true;
    // Separate write descriptor (pipe, stdout, file): closing it is the EOF,
    // but a socket may have other references (stdin and stdout dup'ed from
    // one socket), so shut it down explicitly.
    if (write_kind_ == FdKind::kStreamSocket) shutdown(write_fd_.get(), SHUT_WR);
    ReleaseFlagsGuard(write_fd_.get(), read_fd_.get());
    write_fd_.reset();
    return CloseWriteState::kClosed;
  }
  if (write_kind_ == FdKind::kTty) {
    Result<CloseWriteState> r = SendTerminalEof();
    if (!r.ok() || *r == CloseWriteState::kClosed) write_closed_ = true;
    return r;
  }
  write_closed_ = true;
  if (write_kind_ == FdKind::kStreamSocket && shutdown(fd_.get(), SHUT_WR) < 0 &&
      errno != ENOTCONN) {
    return Status::Errno("shutdown", errno);
  }
  // Datagram sockets and others have no EOF to send.
  return CloseWriteState::kClosed;
}

Result<CloseWriteState> Endpoint::SendTerminalEof() {
  // A pty cannot be half-closed; in canonical mode the EOF character is the
  // terminal's way to say "end of input" (twice after a partial line).
  int fd = fd_.get();
  int pty_number = 0;
  bool own_pty = child_ && ioctl(fd, TIOCGPTN, &pty_number) == 0;
  if (own_pty) {
    // Our own EXEC child: the program is gone, or it must be waiting for input
    // with nothing unread, so that the mode below is the one it reads in.
    if (child_->exited()) return CloseWriteState::kClosed;
    if (std::chrono::steady_clock::now() - last_written_ < kPtySettle) {
      return CloseWriteState::kLater;
    }
    // Checked before the unread input: a waiting program cannot have read
    // more, nor changed the mode, since.
    if (!PtyProgramAwaitsInput(fd, child_->pid())) return CloseWriteState::kLater;
    std::optional<int> unread = PtyUnreadInput(fd);
    if (unread && *unread > 0) return CloseWriteState::kLater;
  }
  struct termios t;
  if (tcgetattr(fd, &t) != 0 || t.c_cc[VEOF] == _POSIX_VDISABLE) return CloseWriteState::kClosed;
  char eof[2] = {static_cast<char>(t.c_cc[VEOF]), static_cast<char>(t.c_cc[VEOF])};
  if (t.c_lflag & ICANON) {
    VMCAT_RETURN_IF_ERROR(WriteAll(fd, eof, last_written_newline_ ? 1 : 2));
    return CloseWriteState::kClosed;
  }
  // Non-canonical: the program edits lines itself (bash's readline at its
  // prompt) and sees the character as if typed. At the start of a line, line
  // editors take it as end of input like the user's Ctrl-D; without it an
  // EXEC:bash,pty session would outlive its client forever. Only for our own
  // EXEC child on a pty master: to a PTY address's other program, a serial
  // line or the user's terminal it would be data.
  if (own_pty && last_written_newline_) VMCAT_RETURN_IF_ERROR(WriteAll(fd, eof, 1));
  return CloseWriteState::kClosed;
}

void Endpoint::CloseRead() {
  if (reader_) return reader_->CloseRead();
  if (read_fd_.valid()) {
    ReleaseFlagsGuard(read_fd_.get(), write_fd_.get());
    read_fd_.reset();
  }
}

}  // namespace vmcat

#include "endpoint/open.h"

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "base/log.h"
#include "base/strings.h"
#include "endpoint/exec.h"
#include "endpoint/fifo.h"
#include "endpoint/sockaddr.h"
#include "tty/terminal.h"

namespace vmcat {

namespace {

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::nanoseconds(static_cast<int64_t>(s * 1e9));
}

Result<std::unique_ptr<Endpoint>> OpenStdio(const SingleAddress& a, const std::string& name,
                                            Access access) {
  auto [rfd, wfd] = StdioDescriptors(a, access);
  if (a.type() == AddressType::kFd) {
    int fd = rfd >= 0 ? rfd : wfd;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return Status::Errno("fd " + a.params[0], errno);
    // Only the directions the descriptor is open for (`vmcat relay 0 1`):
    // a missing one reads as an immediate EOF, or fails on the first write.
    if ((fl & O_ACCMODE) == O_WRONLY) rfd = -1;
    if ((fl & O_ACCMODE) == O_RDONLY) wfd = -1;
  } else {
    for (int fd : {rfd, wfd}) {
      if (fd >= 0 && fcntl(fd, F_GETFD) < 0) {
        return Status::Errno("fd " + std::to_string(fd), errno);
      }
    }
  }
  if (a.options.shared_output) {
    // One of many connections of a fork server writing to this descriptor:
    // its own duplicate (one open file description, so O_NONBLOCK, which the
    // server set for its whole life, is shared; the flags guards below
    // restore what they found, that same state).
    if (rfd >= 0) Fatal("OpenStdio: a shared output is never read");
    int dup_fd = fcntl(wfd, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0) return Status::Errno("dup fd " + std::to_string(wfd), errno);
    auto e = std::make_unique<Endpoint>(name, UniqueFd(), FdKind::kCharDev, UniqueFd(dup_fd),
                                        ClassifyFd(dup_fd));
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(dup_fd, true));
    return e;
  }
  std::unique_ptr<Endpoint> e;
  if (rfd >= 0 && rfd == wfd) {
    e = std::make_unique<Endpoint>(name, UniqueFd(rfd), ClassifyFd(rfd));
  } else {
    FdKind rk = rfd >= 0 ? ClassifyFd(rfd) : FdKind::kCharDev;
    FdKind wk = wfd >= 0 ? ClassifyFd(wfd) : FdKind::kCharDev;
    e = std::make_unique<Endpoint>(name, UniqueFd(rfd), rk, UniqueFd(wfd), wk);
  }
  // Save both descriptors' flags before changing either: stdin and stdout are
  // often one open file description (a terminal), and a guard taken after the
  // other descriptor went non-blocking would "restore" O_NONBLOCK, leaving the
  // user's shell with a terminal whose reads fail with EAGAIN.
  if (rfd >= 0) e->add_flags_guard(FlagsGuard(rfd));
  if (wfd >= 0 && wfd != rfd) e->add_flags_guard(FlagsGuard(wfd));
  if (rfd >= 0) VMCAT_RETURN_IF_ERROR(PrepareInheritedFd(e.get(), rfd, a.options));
  if (wfd >= 0 && wfd != rfd) VMCAT_RETURN_IF_ERROR(PrepareInheritedFd(e.get(), wfd, a.options));
  return e;
}

int OpenFlags(const SingleAddress& a, Access access) {
  const AddressOptions& o = a.options;
  int flags = O_CLOEXEC | O_NOCTTY;
  if (a.type() == AddressType::kCreate) {
    flags |= O_CREAT | O_WRONLY | (o.append ? O_APPEND : O_TRUNC);
  } else if (a.type() == AddressType::kGopen) {
    // socat's GOPEN (and a bare path): appends, and creates what is missing.
    flags |= O_CREAT | O_APPEND |
             (access == Access::kRead    ? O_RDONLY
              : access == Access::kWrite ? O_WRONLY
                                         : O_RDWR);
    if (o.rdonly) flags = (flags & ~O_ACCMODE) | O_RDONLY;
    if (o.wronly) flags = (flags & ~O_ACCMODE) | O_WRONLY;
  } else if (o.rdonly || access == Access::kRead) {
    flags |= O_RDONLY;
  } else if (o.wronly || access == Access::kWrite) {
    flags |= O_WRONLY;
  } else {
    flags |= O_RDWR;
  }
  if (o.creat) flags |= O_CREAT;
  if (o.excl) flags |= O_EXCL;
  if (o.trunc) flags |= O_TRUNC;
  if (o.append) flags |= O_APPEND;
  return flags;
}

Result<std::unique_ptr<Endpoint>> ConnectUnixNow(const std::string& path, bool abstract,
                                                 bool client, const std::string& name,
                                                 const AddressOptions& o) {
  VMCAT_ASSIGN_OR_RETURN(SocketAddress addr, MakeUnixAddress(path, abstract));
  int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
  int tries = client ? 3 : 1;
  int err = 0;
  for (int i = 0; i < tries; ++i) {
    UniqueFd fd(socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Status::Errno("socket", errno);
    VMCAT_RETURN_IF_ERROR(ApplySocketOptions(fd.get(), o, false));
    if (connect(fd.get(), addr.get(), addr.length) == 0) {
      VMCAT_RETURN_IF_ERROR(SetNonBlocking(fd.get(), true));
      FdKind kind = types[i] == SOCK_DGRAM ? FdKind::kDatagramSocket : FdKind::kStreamSocket;
      return std::make_unique<Endpoint>(name, std::move(fd), kind);
    }
    err = errno;
    if (err != EPROTOTYPE) break;
  }
  return Status::Errno("connect " + addr.ToString(), err);
}

Result<std::unique_ptr<Endpoint>> OpenFile(const SingleAddress& a, const std::string& name,
                                           Access access) {
  const std::string& path = a.params[0];
  const AddressOptions& o = a.options;
  if (o.unlink_early) unlink(path.c_str());
  if (a.type() == AddressType::kGopen) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      return ConnectUnixNow(path, false, true, name, o);
    }
  }
  mode_t create_mode = o.mode.value_or(0666);
  UniqueFd fd(open(path.c_str(), OpenFlags(a, access), create_mode));
  if (!fd.valid()) return Status::Errno("open " + Quote(path), errno);
  if (o.user || o.group) VMCAT_RETURN_IF_ERROR(ApplyOwnership(path, o));
  FdKind kind = ClassifyFd(fd.get());
  std::unique_ptr<Endpoint> e = std::make_unique<Endpoint>(name, std::move(fd), kind);
  int raw = e->read_fd();
  if (kind == FdKind::kTty && o.termios.Any()) {
    VMCAT_ASSIGN_OR_RETURN(auto guard, TerminalGuard::Apply(raw, o.termios));
    e->set_terminal(std::move(guard));
  }
  if (kind != FdKind::kFile) VMCAT_RETURN_IF_ERROR(SetNonBlocking(raw, true));
  return e;
}

bool IsNamedPipe(const SingleAddress& a) {
  return a.type() == AddressType::kPipe && !a.params.empty();
}

// PIPE without a path. A named pipe (PIPE:<path>) may have to wait for a
// reader: SingleOpen::AttemptFifo opens it with a FifoOpener (endpoint/fifo.h).
Result<std::unique_ptr<Endpoint>> OpenPipe(const SingleAddress& a, const std::string& name) {
  if (IsNamedPipe(a)) Fatal("OpenPipe: a named pipe opens through FifoOpener");
  // An unnamed pipe: what is written comes back (socat's echo).
  VMCAT_ASSIGN_OR_RETURN(Pipe p, MakePipe(O_NONBLOCK));
  return std::make_unique<Endpoint>(name, std::move(p.read_end), FdKind::kPipe,
                                    std::move(p.write_end), FdKind::kPipe);
}

Result<std::unique_ptr<Endpoint>> OpenPty(const SingleAddress& a, const std::string& name) {
  VMCAT_ASSIGN_OR_RETURN(PtyPair pty, OpenPtyPair());
  UniqueFd master = std::move(pty.master);
  const char* path = pty.slave_path.c_str();
  const AddressOptions& o = a.options;
  // The endpoint holds a slave descriptor of its own for its whole life, as
  // socat's PTY (openpty keeps the slave open): once a slave has been opened
  // and every slave descriptor closed again, the master reads EIO and polls
  // POLLHUP, which the relay takes as the address's EOF. Applying terminal
  // options opens the slave, so without this hold `PTY,raw` ended the relay
  // at once, before anyone could use the link; and a user's `echo x > link`
  // would end it on its close. So a PTY address never reaches EOF from its
  // slave side: programs may open and close the slave any number of times,
  // and the relay ends through the other address (its EOF, then -t or the
  // 0.5 s socat waits by default), a signal, or an error. (An EXEC,pty
  // program's pty is not affected: there the program exiting is the EOF.)
  UniqueFd slave = std::move(pty.slave);
  if (o.termios.Any()) VMCAT_RETURN_IF_ERROR(SetTermios(slave.get(), o.termios));
  VMCAT_RETURN_IF_ERROR(ApplyOwnership(path, o));
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(master.get(), true));
  auto e = std::make_unique<Endpoint>(name, std::move(master), FdKind::kTty);
  e->hold_pty_slave(std::move(slave));
  if (o.link) {
    unlink(o.link->c_str());
    if (symlink(path, o.link->c_str()) < 0) return Status::Errno("symlink " + *o.link, errno);
    e->set_unlink_on_close(*o.link);
  }
  LogNotice(name + ": PTY is " + path);
  return e;
}

Result<std::unique_ptr<Endpoint>> OpenUdpNow(const SingleAddress& a, const std::string& name) {
  VMCAT_ASSIGN_OR_RETURN(auto addrs,
                         ResolveInet(a.params[0], a.params[1], a.info->family, SOCK_DGRAM, false));
  const SocketAddress& peer = addrs.front();
  UniqueFd fd(socket(peer.family(), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Status::Errno("socket", errno);
  VMCAT_RETURN_IF_ERROR(ApplySocketOptions(fd.get(), a.options, false));
  if (a.options.bind) {
    VMCAT_ASSIGN_OR_RETURN(SocketAddress local,
                           ResolveBindAddress(*a.options.bind, peer.family(), SOCK_DGRAM));
    if (bind(fd.get(), local.get(), local.length) < 0) {
      return Status::Errno("bind " + local.ToString(), errno);
    }
  }
  // UDP-SENDTO accepts replies from anyone; connecting would filter them, so
  // only UDP-CONNECT connects. Both send to `peer`.
  if (connect(fd.get(), peer.get(), peer.length) < 0) {
    return Status::Errno("connect " + peer.ToString(), errno);
  }
  return std::make_unique<Endpoint>(name, std::move(fd), FdKind::kDatagramSocket);
}

// Opens the addresses that need no waiting.
Result<std::unique_ptr<Endpoint>> OpenNow(const SingleAddress& a, const std::string& name,
                                          Access access,
                                          const std::vector<std::string>& program_env) {
  switch (a.type()) {
    case AddressType::kStdio:
    case AddressType::kStdin:
    case AddressType::kStdout:
    case AddressType::kStderr:
    case AddressType::kFd:
      return OpenStdio(a, name, access);
    case AddressType::kOpen:
    case AddressType::kCreate:
    case AddressType::kGopen:
      return OpenFile(a, name, access);
    case AddressType::kPipe:
      return OpenPipe(a, name);
    case AddressType::kPty:
      return OpenPty(a, name);
    case AddressType::kExec:
    case AddressType::kSystem:
      return SpawnExec(a, name, program_env, access);
    case AddressType::kUnixConnect:
    case AddressType::kUnixClient:
      return ConnectUnixNow(a.params[0], false, a.type() == AddressType::kUnixClient, name,
                            a.options);
    case AddressType::kAbstractConnect:
    case AddressType::kAbstractClient:
      return ConnectUnixNow(a.params[0], true, a.type() == AddressType::kAbstractClient, name,
                            a.options);
    case AddressType::kUdpConnect:
    case AddressType::kUdpSendto:
      return OpenUdpNow(a, name);
    default:
      Fatal("OpenNow: address type needs an asynchronous open");
  }
}

bool OpensAsynchronously(AddressType t) {
  return t == AddressType::kTcpConnect || t == AddressType::kVsockConnect ||
         t == AddressType::kHybridVsockConnect;
}

// Opens one single address, retrying as its options ask.
class SingleOpen : public OpenOperation, public IoHandler {
 public:
  SingleOpen(Loop* loop, const SingleAddress& address, std::string name, Access access, Done done,
             std::vector<std::string> program_env = {})
      : loop_(loop),
        address_(address),
        name_(std::move(name)),
        access_(access),
        done_(std::move(done)),
        program_env_(std::move(program_env)),
        retries_left_(address.options.retry) {
    timer_ = loop_->AddTimer(std::chrono::nanoseconds(0), [this] {
      timer_ = 0;
      Attempt();
    });
  }

  ~SingleOpen() override {
    CancelTimers();
    Unwatch();
  }

  void OnIo(int fd, uint32_t events) override {
    if (stage_ == Stage::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == EINPROGRESS || err == EALREADY) return;
      Unwatch();
      if (err != 0) {
        last_error_ = Status::Errno("connect " + candidates_[candidate_].ToString(), err);
        socket_.reset();
        candidate_++;
        TryNextCandidate();
        return;
      }
      Connected();
    } else if (stage_ == Stage::kHandshake) {
      ReadHandshake();
    }
  }

 private:
  enum class Stage { kIdle, kConnecting, kHandshake };

  void CancelTimers() {
    if (timer_) loop_->CancelTimer(timer_);
    if (timeout_timer_) loop_->CancelTimer(timeout_timer_);
    timer_ = timeout_timer_ = 0;
  }

  void Unwatch() {
    if (watching_ >= 0) loop_->Remove(watching_);
    watching_ = -1;
  }

  void Attempt() {
    if (IsNamedPipe(address_)) return AttemptFifo();
    if (!OpensAsynchronously(address_.type())) {
      Result<std::unique_ptr<Endpoint>> r = OpenNow(address_, name_, access_, program_env_);
      if (!r.ok()) return Failed(r.status());
      return Finish(std::move(r));
    }
    if (address_.options.connect_timeout) {
      timeout_timer_ = loop_->AddTimer(Seconds(*address_.options.connect_timeout), [this] {
        timeout_timer_ = 0;
        Unwatch();
        Failed(Status::Error(TimeoutMessage()));
      });
    }
    candidates_.clear();
    candidate_ = 0;
    switch (address_.type()) {
      case AddressType::kTcpConnect: {
        auto r = ResolveInet(address_.params[0], address_.params[1], address_.info->family,
                             SOCK_STREAM, false);
        if (!r.ok()) return Failed(r.status());
        candidates_ = std::move(r).value();
        break;
      }
      case AddressType::kVsockConnect:
        candidates_.push_back(
            MakeVsockAddress(static_cast<uint32_t>(*ParseUnsigned(address_.params[0])),
                             static_cast<uint32_t>(*ParseUnsigned(address_.params[1]))));
        break;
      case AddressType::kHybridVsockConnect: {
        auto r = MakeUnixAddress(address_.params[0], false);
        if (!r.ok()) return Failed(r.status());
        candidates_.push_back(*r);
        break;
      }
      default:
        Fatal("SingleOpen: unexpected type");
    }
    TryNextCandidate();
  }

  // PIPE:<path>. A writer waits for a reader as socat's blocking open(2)
  // does, here with short non-blocking retries; not one of the retry= tries.
  void AttemptFifo() {
    if (!fifo_) fifo_ = std::make_unique<FifoOpener>(address_, name_, access_);
    Result<std::unique_ptr<Endpoint>> r = fifo_->TryOpen();
    if (!r.ok()) return Failed(r.status());
    if (*r == nullptr) {
      timer_ = loop_->AddTimer(fifo_->RetryDelay(), [this] {
        timer_ = 0;
        AttemptFifo();
      });
      return;
    }
    Finish(std::move(r));
  }

  // What connect-timeout interrupted, naming the target (with several
  // resolved addresses, the one being tried).
  std::string TimeoutMessage() const {
    std::string limit = "timed out after " + FormatSeconds(*address_.options.connect_timeout);
    if (address_.type() == AddressType::kHybridVsockConnect) {
      return "hybrid vsock " + address_.params[0] + " port " + address_.params[1] +
             (stage_ == Stage::kHandshake ? ": CONNECT handshake " : ": connect ") + limit;
    }
    if (candidate_ < candidates_.size()) {
      return "connect " + candidates_[candidate_].ToString() + ": " + limit;
    }
    return "connect: " + limit;
  }

  static std::string FormatSeconds(double s) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g s", s);
    return buf;
  }

  void TryNextCandidate() {
    if (candidate_ >= candidates_.size()) return Failed(last_error_);
    const SocketAddress& target = candidates_[candidate_];
    socket_.reset(socket(target.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!socket_.valid()) {
      last_error_ = Status::Errno("socket", errno);
      candidate_++;
      return TryNextCandidate();
    }
    Status s = ApplySocketOptions(socket_.get(), address_.options,
                                  address_.type() == AddressType::kTcpConnect);
    if (s.ok() && address_.options.bind && target.family() != AF_UNIX &&
        target.family() != AF_VSOCK) {
      auto local = ResolveBindAddress(*address_.options.bind, target.family(), SOCK_STREAM);
      if (!local.ok()) return Failed(local.status());
      if (bind(socket_.get(), local->get(), local->length) < 0) {
        s = Status::Errno("bind " + local->ToString(), errno);
      }
    }
    if (!s.ok()) return Failed(s);
    if (connect(socket_.get(), target.get(), target.length) == 0) return Connected();
    int err = errno;
    if (err == EINPROGRESS || (err == EAGAIN && target.family() != AF_UNIX)) {
      stage_ = Stage::kConnecting;
      Status added = loop_->Add(socket_.get(), EPOLLOUT, this);
      if (!added.ok()) return Failed(added);
      watching_ = socket_.get();
      return;
    }
    last_error_ = Status::Errno("connect " + target.ToString(), err);
    socket_.reset();
    candidate_++;
    TryNextCandidate();
  }

  void Connected() {
    if (address_.type() == AddressType::kHybridVsockConnect) return StartHandshake();
    if (timeout_timer_) loop_->CancelTimer(timeout_timer_);
    timeout_timer_ = 0;
    Finish(std::make_unique<Endpoint>(name_, std::move(socket_), FdKind::kStreamSocket));
  }

  // Firecracker / Cloud Hypervisor: "CONNECT <port>\n" -> "OK <n>\n".
  void StartHandshake() {
    std::string request = "CONNECT " + address_.params[1] + "\n";
    ssize_t n = send(socket_.get(), request.data(), request.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(request.size())) {
      return Failed(Status::Errno("send CONNECT to " + address_.params[0], errno));
    }
    stage_ = Stage::kHandshake;
    Status added = loop_->Add(socket_.get(), EPOLLIN | EPOLLRDHUP, this);
    if (!added.ok()) return Failed(added);
    watching_ = socket_.get();
    ReadHandshake();
  }

  void ReadHandshake() {
    char buf[512];
    while (true) {
      ssize_t n = recv(socket_.get(), buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        Unwatch();
        return Failed(Status::Errno(
            "hybrid vsock " + address_.params[0] + " port " + address_.params[1] + ": read",
            errno));
      }
      if (n == 0) {
        Unwatch();
        return Failed(Status::Error(
            "hybrid vsock " + address_.params[0] + " port " + address_.params[1] +
            ": connection closed during the CONNECT handshake (is anything listening on port " +
            address_.params[1] + " in the guest?)"));
      }
      reply_.append(buf, static_cast<size_t>(n));
      size_t nl = reply_.find('\n');
      if (nl == std::string::npos) {
        if (reply_.size() > 256) break;
        continue;
      }
      std::string line = reply_.substr(0, nl);
      if (!StartsWith(line, "OK ") && line != "OK") break;
      Unwatch();
      if (timeout_timer_) loop_->CancelTimer(timeout_timer_);
      timeout_timer_ = 0;
      auto e = std::make_unique<Endpoint>(name_, std::move(socket_), FdKind::kStreamSocket);
      e->initial_data() = reply_.substr(nl + 1);
      return Finish(std::move(e));
    }
    Unwatch();
    Failed(Status::Error("hybrid vsock " + address_.params[0] + ": unexpected reply " +
                         Quote(reply_.substr(0, 80)) + " to CONNECT " + address_.params[1]));
  }

  void Failed(Status status) {
    CancelTimers();
    socket_.reset();
    stage_ = Stage::kIdle;
    reply_.clear();
    if (address_.options.forever || retries_left_ > 0) {
      if (retries_left_ > 0) retries_left_--;
      LogInfo(name_ + ": " + status.message() + "; retrying in " +
              FormatSeconds(address_.options.interval));
      timer_ = loop_->AddTimer(Seconds(address_.options.interval), [this] {
        timer_ = 0;
        Attempt();
      });
      return;
    }
    Finish(status);
  }

  void Finish(Result<std::unique_ptr<Endpoint>> result) {
    stage_ = Stage::kIdle;
    Done done = std::move(done_);
    if (!result.ok()) result = result.status().Prefix(name_);
    done(std::move(result));  // may destroy this
  }

  Loop* loop_;
  const SingleAddress& address_;
  std::string name_;
  Access access_;
  Done done_;
  std::vector<std::string> program_env_;
  unsigned retries_left_;
  Loop::TimerId timer_ = 0;
  Loop::TimerId timeout_timer_ = 0;
  Stage stage_ = Stage::kIdle;
  std::vector<SocketAddress> candidates_;
  size_t candidate_ = 0;
  Status last_error_ = Status::Error("no address to connect to");
  UniqueFd socket_;
  int watching_ = -1;
  std::string reply_;
  std::unique_ptr<FifoOpener> fifo_;  // PIPE:<path>
};

// "a!!b": opens the read side, then the write side, then combines them.
class DualOpen : public OpenOperation {
 public:
  DualOpen(Loop* loop, const AddressSpec& spec, std::string name, Done done,
           std::vector<std::string> program_env)
      : done_(std::move(done)), name_(std::move(name)), program_env_(std::move(program_env)) {
    reader_op_ = std::make_unique<SingleOpen>(
        loop, spec.first, name_, Access::kRead,
        [this, loop, &spec](Result<std::unique_ptr<Endpoint>> r) {
          if (!r.ok()) return Complete(r.status());
          reader_ = std::move(r).value();
          writer_op_ = std::make_unique<SingleOpen>(
              loop, *spec.write_side, name_, Access::kWrite,
              [this](Result<std::unique_ptr<Endpoint>> w) {
                if (!w.ok()) return Complete(w.status());
                Complete(Endpoint::Combine(name_, std::move(reader_), std::move(w).value()));
              },
              program_env_);
        },
        program_env_);
  }

 private:
  void Complete(Result<std::unique_ptr<Endpoint>> r) {
    Done done = std::move(done_);
    done(std::move(r));
  }

  Done done_;
  std::string name_;
  std::vector<std::string> program_env_;
  std::unique_ptr<SingleOpen> reader_op_, writer_op_;
  std::unique_ptr<Endpoint> reader_;
};

}  // namespace

std::pair<int, int> StdioDescriptors(const SingleAddress& a, Access access) {
  int rfd = -1, wfd = -1;
  switch (a.type()) {
    case AddressType::kStdio:
      rfd = STDIN_FILENO;
      wfd = STDOUT_FILENO;
      break;
    case AddressType::kStdin:
      rfd = STDIN_FILENO;
      break;
    case AddressType::kStdout:
      wfd = STDOUT_FILENO;
      break;
    case AddressType::kStderr:
      wfd = STDERR_FILENO;
      break;
    case AddressType::kFd:
      rfd = wfd = static_cast<int>(*ParseUnsigned(a.params[0]));
      break;
    default:
      Fatal("StdioDescriptors: not a standard I/O or FD address");
  }
  if (access == Access::kWrite) rfd = -1;
  if (access == Access::kRead) wfd = -1;
  return {rfd, wfd};
}

Status ApplyOwnership(const std::string& path, const AddressOptions& o) {
  if (o.mode && chmod(path.c_str(), *o.mode) < 0) return Status::Errno("chmod " + path, errno);
  if (o.user || o.group) {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (o.user) {
      auto n = ParseUnsigned(*o.user);
      if (!n) return Status::Error("user=" + *o.user + ": give a numeric uid");
      uid = static_cast<uid_t>(*n);
    }
    if (o.group) {
      auto n = ParseUnsigned(*o.group);
      if (!n) return Status::Error("group=" + *o.group + ": give a numeric gid");
      gid = static_cast<gid_t>(*n);
    }
    if (chown(path.c_str(), uid, gid) < 0) return Status::Errno("chown " + path, errno);
  }
  return Status::Ok();
}

Status ApplySocketOptions(int fd, const AddressOptions& o, bool tcp, SocketOrigin origin) {
  int one = 1;
  if (o.reuseaddr && origin == SocketOrigin::kCreated &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    return Status::Errno("setsockopt(SO_REUSEADDR)", errno);
  }
  if (o.keepalive) {
    int v = *o.keepalive ? 1 : 0;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) < 0) {
      return Status::Errno("setsockopt(SO_KEEPALIVE)", errno);
    }
  }
  if (o.rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &*o.rcvbuf, sizeof(int)) < 0) {
    return Status::Errno("setsockopt(SO_RCVBUF)", errno);
  }
  if (o.sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &*o.sndbuf, sizeof(int)) < 0) {
    return Status::Errno("setsockopt(SO_SNDBUF)", errno);
  }
  if (tcp && o.nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
    return Status::Errno("setsockopt(TCP_NODELAY)", errno);
  }
  return Status::Ok();
}

Status PrepareInheritedFd(Endpoint* endpoint, int fd, const AddressOptions& options) {
  if (options.termios.Any() && !endpoint->has_terminal() && isatty(fd)) {
    VMCAT_ASSIGN_OR_RETURN(auto guard, TerminalGuard::Apply(fd, options.termios));
    endpoint->set_terminal(std::move(guard));
  }
  return SetNonBlocking(fd, true);
}

std::unique_ptr<OpenOperation> StartOpen(Loop* loop, const AddressSpec& spec, std::string name,
                                         Access access, OpenOperation::Done done,
                                         std::vector<std::string> program_env) {
  if (spec.IsDual()) {
    // With -u/-U only one half is used; the other is not opened at all (so
    // that, as in socat, an unused CREATE: half makes no file).
    if (access == Access::kRead || access == Access::kWrite) {
      const SingleAddress& half = access == Access::kRead ? spec.first : *spec.write_side;
      return std::make_unique<SingleOpen>(loop, half, std::move(name), access, std::move(done),
                                          std::move(program_env));
    }
    return std::make_unique<DualOpen>(loop, spec, std::move(name), std::move(done),
                                      std::move(program_env));
  }
  return std::make_unique<SingleOpen>(loop, spec.first, std::move(name), access, std::move(done),
                                      std::move(program_env));
}

}  // namespace vmcat

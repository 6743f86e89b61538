// Endpoint: one opened relay address, as one or two file descriptors.
//
// An Endpoint owns everything its address opened: the descriptors, a child
// process (EXEC/SYSTEM), a terminal whose settings it changed, a socket file
// to unlink. Destroying it closes and restores all of that. Sockets have one
// descriptor for both directions; STDIO, dual addresses ("a!!b") and
// EXEC,pipes have two.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/status.h"
#include "tty/terminal.h"

namespace vmcat {

/// What kind of object a descriptor refers to; decides how it can be
/// polled, spliced and half-closed.
enum class FdKind {
  kStreamSocket,
  kDatagramSocket,
  kPipe,
  kTty,      // a terminal, including a pty master or slave
  kFile,     // regular file: always ready, not pollable
  kCharDev,  // other character device (/dev/null, ...): may not be pollable
};
const char* ToString(FdKind kind);
/// Classifies an open descriptor with fstat/isatty.
FdKind ClassifyFd(int fd);

/// Restores a descriptor's file status flags (O_NONBLOCK) on destruction, and
/// on a crash signal too; used for inherited descriptors such as stdin that
/// other processes share.
class FlagsGuard {
 public:
  FlagsGuard() = default;
  explicit FlagsGuard(int fd);
  FlagsGuard(FlagsGuard&& other) noexcept;
  FlagsGuard& operator=(FlagsGuard&& other) noexcept;
  ~FlagsGuard();
  int fd() const { return fd_; }
  /// Forgets the descriptor without restoring anything.
  void Dismiss();

 private:
  int fd_ = -1;
  int flags_ = 0;
  int crash_slot_ = -1;  // RestoreFlagsOnCrash
};

/// Which directions the relay will use on an address (-u / -U make one side
/// read-only and the other write-only).
enum class Access { kRead, kWrite, kBoth };

/// "exited with status N" or "was killed by signal N (Name)", for a
/// waitpid() status.
std::string DescribeWaitStatus(int wait_status);

/// A child process started for an EXEC/SYSTEM address. On destruction (the
/// relay ended) a child that is still running is told to stop; reaping is
/// left to the event loop.
class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() const { return exited_; }
  int wait_status() const { return wait_status_; }
  void MarkExited(int wait_status) {
    exited_ = true;
    wait_status_ = wait_status;
  }
  /// The child runs on a pty: if it leads its own process group (setsid,
  /// setpgid), ending sends the group SIGHUP as a terminal hang-up would (an
  /// interactive shell ignores SIGTERM). Otherwise the child gets SIGTERM.
  void set_on_terminal(bool on) { on_terminal_ = on; }
  bool on_terminal() const { return on_terminal_; }

 private:
  pid_t pid_;
  bool exited_ = false;
  bool on_terminal_ = false;
  int wait_status_ = 0;
};

/// How far Endpoint::CloseWrite got.
enum class CloseWriteState {
  kClosed,  // the peer will read EOF (or cannot be told more than it was)
  kLater,   // not yet: call CloseWrite again after a short delay
};

class Endpoint {
 public:
  /// `name` is used in messages: `address 1 "TCP:host:22"`.
  Endpoint(std::string name, UniqueFd fd, FdKind kind);
  Endpoint(std::string name, UniqueFd read_fd, FdKind read_kind, UniqueFd write_fd,
           FdKind write_kind);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  /// A dual address "a!!b": reads through `reader`, writes through `writer`,
  /// owning both.
  static std::unique_ptr<Endpoint> Combine(std::string name, std::unique_ptr<Endpoint> reader,
                                           std::unique_ptr<Endpoint> writer);
  Endpoint& operator=(const Endpoint&) = delete;

  const std::string& name() const { return name_; }
  int read_fd() const;
  int write_fd() const;
  FdKind read_kind() const { return reader_ ? reader_->read_kind() : read_kind_; }
  FdKind write_kind() const { return writer_ ? writer_->write_kind() : write_kind_; }
  bool write_closed() const { return writer_ ? writer_->write_closed() : write_closed_; }

  /// Ends the writing direction so the peer reads EOF, keeping the reading
  /// direction open: shutdown(SHUT_WR) on a socket, close() on a separate
  /// write descriptor, the terminal's EOF character on a pty. For the pty of
  /// our own EXEC child that character is only sent once the program waits
  /// for input and has read everything written before it (kLater until then):
  /// its meaning depends on the terminal mode when the program reads it, and
  /// a line editor starting up or returning to its prompt switches the mode
  /// (a pending canonical EOF then reads as a NUL byte and the shell never
  /// ends). Nothing may be written after the first call.
  Result<CloseWriteState> CloseWrite();
  /// Closes the reading direction when it is a separate descriptor.
  void CloseRead();

  // Ownership of resources tied to this endpoint.
  /// Owns `child`; a child on this endpoint's terminal (EXEC,pty) gets hung up
  /// on when the endpoint goes.
  void set_child(std::unique_ptr<ChildProcess> child);
  /// The EXEC child on the reading side (or the only one), if any.
  ChildProcess* child() const;
  /// Every child this endpoint owns (a dual address may have two).
  std::vector<ChildProcess*> children() const;
  void set_terminal(std::unique_ptr<TerminalGuard> t) { terminal_ = std::move(t); }
  bool has_terminal() const { return terminal_ != nullptr; }
  void add_flags_guard(FlagsGuard g);
  /// Path unlinked when the endpoint is destroyed (UNIX-LISTEN socket files).
  void set_unlink_on_close(std::string path) { unlink_path_ = std::move(path); }
  /// PTY address: a descriptor of the pty's slave side, held (never read or
  /// written) for as long as the endpoint lives so that the master never
  /// reads the hang-up (EIO, POLLHUP) that follows the last close of a slave.
  void hold_pty_slave(UniqueFd slave) { pty_slave_ = std::move(slave); }
  /// Bytes to deliver before anything read from the descriptor (the first
  /// datagram of UDP-LISTEN).
  std::string& initial_data() { return reader_ ? reader_->initial_data() : initial_data_; }
  /// For pty masters: whether the last byte written was '\n', and when.
  void NoteWritten(const char* data, size_t n);
  /// UDP-RECVFROM: the read side yields one datagram, then EOF.
  bool one_shot_read = false;

 private:
  std::string name_;
  UniqueFd fd_;
  UniqueFd read_fd_;
  UniqueFd write_fd_;
  FdKind read_kind_;
  FdKind write_kind_;
  bool write_closed_ = false;
  bool last_written_newline_ = true;
  std::chrono::steady_clock::time_point last_written_{};
  std::unique_ptr<ChildProcess> child_;
  std::unique_ptr<TerminalGuard> terminal_;
  std::vector<FlagsGuard> flags_guards_;
  /// Restores and drops the guard of `fd` before it is closed, unless the
  /// descriptor shares its open file description with `other_fd` (then the
  /// restore waits for the other one).
  void ReleaseFlagsGuard(int fd, int other_fd);
  /// CloseWrite on a terminal.
  Result<CloseWriteState> SendTerminalEof();
  std::string unlink_path_;
  UniqueFd pty_slave_;  // hold_pty_slave
  std::string initial_data_;
  std::unique_ptr<Endpoint> reader_;  // set for dual addresses
  std::unique_ptr<Endpoint> writer_;
};

}  // namespace vmcat

// Pump: moves the bytes of one direction of a relay, from one endpoint's read
// side to the other endpoint's write side, until EOF, then half-closes the
// writer.
//
// Small transfers are copied through a buffer shared by all pumps (no
// per-connection memory while idle). When a read fills a whole buffer and
// neither side needs the bytes in user space (no -v/-x, escape, crnl,
// datagrams), the pump goes into bulk mode, chosen by where the bytes go:
// into a TCP socket it keeps copying, 1 MiB per read (the kernel builds
// large TCP segments from copied data, but one fragment per 4 KiB page from
// spliced pages: copying measured 20-40 % faster into TCP); anywhere else
// (UNIX sockets, pipes, files) it switches to splice(2) through a pipe of
// its own, so bulk data never enters user space.
//
// Readiness comes from edge-triggered epoll through FdState; a pump clears a
// flag when the kernel says EAGAIN (or a stream read/write comes up short),
// and the relay sets it again on the next edge. Single-threaded.
//
// After EOF the pump half-closes its writer. That can take a while for the pty
// of an EXEC program (see Endpoint::CloseWrite): the pump is then "closing"
// and its owner calls RetryClose() after the delay the pump asks for.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "address/address.h"
#include "base/fd.h"
#include "endpoint/endpoint.h"
#include "relay/dump.h"
#include "relay/transform.h"

namespace vmcat {

/// Readiness of one descriptor. Non-pollable descriptors (regular files)
/// are always ready.
struct FdState {
  int fd = -1;
  bool pollable = true;
  bool readable = false;
  bool writable = false;
  /// The peer hung up (EPOLLHUP/EPOLLRDHUP): a short read no longer proves
  /// the descriptor drained, because no further edge will announce the EOF.
  bool hangup = false;
  /// EPOLLHUP or EPOLLERR: on a stream socket, the peer closed both
  /// directions or reset the connection; nothing written arrives any more.
  bool gone = false;
};

struct PumpConfig {
  size_t block_size = 65536;
  bool block_size_given = false;  // -b: also the read size in bulk copy mode
  bool dump_text = false;
  bool dump_hex = false;
};

class Pump;

/// What a pump tells its relay.
class PumpOwner {
 public:
  virtual ~PumpOwner() = default;
  /// EOF was read and everything before it written; the writer is half-closed,
  /// or closing (then RetryClose is due after OnPumpCloseLater's delay).
  virtual void OnPumpFinished(Pump* pump) = 0;
  virtual void OnPumpFailed(Pump* pump, Status status) = 0;
  /// The budget of one turn ran out with work left: run it again soon.
  virtual void OnPumpYield(Pump* pump) = 0;
  /// Bytes moved (for the inactivity timeout).
  virtual void OnPumpActivity() = 0;
  /// ignoreeof on a descriptor that cannot be polled: retry reading later.
  virtual void OnPumpPollLater(Pump* pump) = 0;
  /// The writer cannot be half-closed yet: call pump->RetryClose() after `delay`.
  virtual void OnPumpCloseLater(Pump* pump, std::chrono::milliseconds delay) = 0;
};

class Pump {
 public:
  /// `direction` is '>' (address 1 to 2) or '<'. `reader_options` are the
  /// options of the address read from, `writer_options` of the one written to.
  Pump(PumpOwner* owner, char direction, Endpoint* source, const AddressOptions& reader_options,
       bool source_datagram, Endpoint* sink, const AddressOptions& writer_options,
       bool sink_datagram, FdState* in, FdState* out, const PumpConfig& config);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  /// Moves data until blocked, finished, failed or out of budget.
  void Run();
  /// The other direction ended the session (escape): deliver what the source
  /// has readable right now, then finish; never wait for more.
  void Drain();
  /// Tries the half-close again (after OnPumpCloseLater).
  void RetryClose();

  char direction() const { return direction_; }
  bool finished() const { return state_ == State::kFinished; }
  bool failed() const { return state_ == State::kFailed; }
  /// Moving data (not finished, closing or failed).
  bool active() const { return state_ == State::kRunning; }
  /// All data delivered; waiting to half-close the writer.
  bool closing() const { return state_ == State::kClosing; }
  /// The escape byte was read: the session should end.
  bool escaped() const { return escaped_; }
  bool splicing() const { return pipe_.read_end.valid(); }
  uint64_t bytes() const { return bytes_; }
  Endpoint* source() const { return source_; }
  Endpoint* sink() const { return sink_; }
  const FdState* in() const { return in_; }
  const FdState* out() const { return out_; }

  /// The source's program (EXEC) ended: once its output is drained, EOF.
  void SourceProgramExited();
  /// The sink's program ended: what it could not take is undeliverable, and
  /// it needs no EOF any more.
  void SinkProgramExited();

 private:
  enum class State { kRunning, kClosing, kFinished, kFailed };

  bool ReadChunk();                          // copy mode; false when blocked/stopped
  void Deliver(const char* data, size_t n);  // transforms, dump, write or keep pending
  bool Flush();                              // writes pending; false when blocked/stopped
  bool SpliceStep(bool* progress);           // splice mode
  bool SpliceEligible() const;  // bulk mode (splice or large copies) allowed
  void EnterBulkMode();
  bool SinkIsInetSocket() const;
  void StartSplicing();
  void HandleEof();
  void Finish();
  void Fail(const std::string& what, int err);
  bool StreamKind(FdKind kind) const {
    return kind == FdKind::kStreamSocket || kind == FdKind::kPipe;
  }
  /// Bytes the next read may take (Drain's limit).
  size_t ReadLimit(size_t want) const;
  void NoteRead(size_t n);

  PumpOwner* owner_;
  char direction_;
  Endpoint* source_;
  Endpoint* sink_;
  FdState* in_;
  FdState* out_;
  PumpConfig config_;
  bool source_datagram_;
  bool sink_datagram_;
  std::optional<unsigned char> escape_;
  bool ignoreeof_;
  LineConverter read_conv_;
  LineConverter write_conv_;
  Dumper dumper_;

  State state_ = State::kRunning;
  bool eof_ = false;
  bool escaped_ = false;
  bool source_program_exited_ = false;
  bool sink_program_exited_ = false;
  bool one_shot_done_ = false;
  std::string pending_;
  size_t pending_offset_ = 0;
  Pipe pipe_;
  size_t pipe_bytes_ = 0;
  size_t pipe_capacity_ = 0;
  bool splice_ruled_out_ = false;
  bool bulk_copy_ = false;  // bulk mode by copying (into TCP)
  uint64_t bytes_ = 0;
  bool draining_ = false;
  std::optional<size_t> drain_left_;  // bytes readable when Drain started
  int close_attempts_ = 0;
};

}  // namespace vmcat

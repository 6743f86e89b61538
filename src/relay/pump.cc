#include "relay/pump.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "base/log.h"

namespace vmcat {

namespace {

// Pumps run one at a time, so one read buffer serves them all.
char* ScratchBuffer(size_t size) {
  static std::vector<char> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

constexpr int kTurnBudget = 64;              // reads or writes per turn before yielding
constexpr size_t kSplicePipeSize = 1 << 20;  // bytes in flight per splicing pump
constexpr size_t kBulkCopyBlock = 1 << 20;   // read size of a bulk copying pump

LineConverter::Mode ModeOf(const AddressOptions& o) {
  return o.crnl ? LineConverter::Mode::kCrnl
         : o.cr ? LineConverter::Mode::kCr
                : LineConverter::Mode::kNone;
}

}  // namespace

Pump::Pump(PumpOwner* owner, char direction, Endpoint* source, const AddressOptions& reader_options,
           bool source_datagram, Endpoint* sink, const AddressOptions& writer_options,
           bool sink_datagram, FdState* in, FdState* out, const PumpConfig& config)
    : owner_(owner),
      direction_(direction),
      source_(source),
      sink_(sink),
      in_(in),
      out_(out),
      config_(config),
      source_datagram_(source_datagram),
      sink_datagram_(sink_datagram),
      escape_(reader_options.escape),
      ignoreeof_(reader_options.ignoreeof),
      read_conv_(ModeOf(reader_options), true),
      write_conv_(ModeOf(writer_options), false),
      dumper_(config.dump_text, config.dump_hex, direction) {
  if (!source_->initial_data().empty()) {
    pending_.clear();
    std::string first = std::move(source_->initial_data());
    source_->initial_data().clear();
    Deliver(first.data(), first.size());
    // UDP-RECVFROM: that datagram is the one this session receives; the
    // program (or peer) reads it, then the EOF.
    if (source_->one_shot_read) HandleEof();
  }
}

Pump::~Pump() = default;

bool Pump::SpliceEligible() const {
  if (splice_ruled_out_ || draining_ || dumper_.enabled() || escape_ || ignoreeof_ ||
      read_conv_.active() || write_conv_.active() || source_datagram_ || sink_datagram_ ||
      source_->one_shot_read) {
    return false;
  }
  auto ok = [](FdKind k) {
    return k == FdKind::kStreamSocket || k == FdKind::kPipe || k == FdKind::kFile;
  };
  return ok(source_->read_kind()) && ok(sink_->write_kind());
}

bool Pump::SinkIsInetSocket() const {
  if (sink_->write_kind() != FdKind::kStreamSocket) return false;
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(sink_->write_fd(), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return false;
  return domain == AF_INET || domain == AF_INET6;
}

void Pump::EnterBulkMode() {
  if (SinkIsInetSocket()) {
    bulk_copy_ = true;
    return;
  }
  StartSplicing();
}

void Pump::StartSplicing() {
  auto p = MakePipe(O_NONBLOCK);
  if (!p.ok()) {
    splice_ruled_out_ = true;  // out of descriptors: keep copying
    return;
  }
  pipe_ = std::move(p).value();
  int size = fcntl(pipe_.write_end.get(), F_SETPIPE_SZ, static_cast<int>(kSplicePipeSize));
  if (size < 0) size = fcntl(pipe_.write_end.get(), F_GETPIPE_SZ);
  pipe_capacity_ = size > 0 ? static_cast<size_t>(size) : 65536;
  pipe_bytes_ = 0;
}

void Pump::Run() {
  for (int turn = 0; turn < kTurnBudget; ++turn) {
    if (state_ != State::kRunning) return;
    if (pending_offset_ < pending_.size()) {
      if (!out_->writable) return;
      if (!Flush()) return;
      continue;
    }
    if (splicing()) {
      bool progress = false;
      if (!SpliceStep(&progress)) return;
      if (draining_ && !eof_ && (!in_->readable || (drain_left_ && *drain_left_ == 0))) {
        eof_ = true;  // drained: what follows is not "in flight" any more
        progress = true;
      }
      if (eof_ && pipe_bytes_ == 0) {
        Finish();
        return;
      }
      if (!progress) return;
      continue;
    }
    if (eof_) {
      Finish();
      return;
    }
    if (draining_ && (!in_->readable || (drain_left_ && *drain_left_ == 0))) {
      HandleEof();
      continue;
    }
    if (!in_->readable) return;
    if (!ReadChunk()) return;
  }
  owner_->OnPumpYield(this);
}

void Pump::Drain() {
  if (state_ != State::kRunning) return;
  draining_ = true;
  // Only what is readable at this moment, so that a peer that keeps sending
  // cannot keep the session alive. (A datagram socket would report only its
  // next datagram: read those until EAGAIN.)
  int fd = source_->read_fd();
  int readable = 0;
  if (fd >= 0 && !source_datagram_ && ioctl(fd, FIONREAD, &readable) == 0) {
    drain_left_ = static_cast<size_t>(std::max(readable, 0));
  }
  // Look even without an edge: the bytes may have arrived during this turn
  // (the escaping direction's last write, through PIPE, say).
  in_->readable = true;
  Run();
}

size_t Pump::ReadLimit(size_t want) const {
  return drain_left_ ? std::min(want, *drain_left_) : want;
}

void Pump::NoteRead(size_t n) {
  if (drain_left_) *drain_left_ -= std::min(n, *drain_left_);
}

bool Pump::ReadChunk() {
  if (one_shot_done_) {
    eof_ = true;
    return true;
  }
  size_t block = ReadLimit(bulk_copy_ && !config_.block_size_given ? kBulkCopyBlock
                                                                     : config_.block_size);
  char* buf = ScratchBuffer(block);
  int fd = source_->read_fd();
  if (fd < 0) {  // write-only address: nothing to read
    eof_ = true;
    return true;
  }
  ssize_t n = read(fd, buf, block);
  if (n > 0) {
    size_t got = static_cast<size_t>(n);
    NoteRead(got);
    if (got < block && StreamKind(source_->read_kind()) && !in_->hangup) in_->readable = false;
    if (source_->one_shot_read) one_shot_done_ = true;
    Deliver(buf, got);
    if (got == block && !bulk_copy_ && pending_offset_ >= pending_.size() && SpliceEligible()) {
      EnterBulkMode();
    }
    return true;
  }
  if (n == 0) {
    if (source_datagram_) return true;  // an empty datagram is not an EOF
    if (ignoreeof_ && !draining_) {
      in_->readable = false;
      if (!in_->pollable) owner_->OnPumpPollLater(this);
      return false;
    }
    HandleEof();
    return true;
  }
  int err = errno;
  if (err == EAGAIN || err == EINTR) {
    in_->readable = false;
    if (source_program_exited_ || draining_) {
      HandleEof();
      return true;
    }
    return false;
  }
  if (err == EIO && source_->read_kind() == FdKind::kTty) {
    // A pty master reads EIO once every slave descriptor is closed.
    HandleEof();
    return true;
  }
  Fail("read", err);
  return false;
}

void Pump::HandleEof() {
  eof_ = true;
  std::string tail;
  read_conv_.Flush(&tail);
  if (!tail.empty()) Deliver(tail.data(), tail.size());
}

void Pump::Deliver(const char* data, size_t n) {
  if (n == 0) return;
  std::string_view chunk(data, n);
  if (auto pos = FindEscape(chunk, escape_)) {
    chunk = chunk.substr(0, *pos);
    escaped_ = true;
    eof_ = true;
  }
  bool transform = read_conv_.active() || write_conv_.active();
  std::string converted;
  if (transform) {
    std::string stage;
    read_conv_.Convert(chunk, &stage);
    write_conv_.Convert(stage, &converted);
    chunk = converted;
  }
  if (chunk.empty()) return;
  bytes_ += chunk.size();
  owner_->OnPumpActivity();
  if (dumper_.enabled()) {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    std::string text = dumper_.Format(chunk, now);
    (void)WriteAll(STDERR_FILENO, text.data(), text.size());
  }
  // Fast path: write straight from the read buffer; keep only the rest.
  size_t written = 0;
  if (pending_offset_ >= pending_.size() && out_->writable && sink_->write_fd() >= 0) {
    ssize_t w = write(sink_->write_fd(), chunk.data(), chunk.size());
    if (w > 0) {
      written = static_cast<size_t>(w);
      sink_->NoteWritten(chunk.data(), written);
      if (written < chunk.size() && StreamKind(sink_->write_kind())) out_->writable = false;
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      if (sink_datagram_ && errno == ECONNREFUSED) {
        // A UDP peer without a listener: the datagram is gone, as with socat.
        LogWarning(sink_->name() + ": send: peer refused the datagram (no listener)");
        return;
      }
      // Keep the bytes; Flush reports the error with the usual handling.
    } else if (w < 0) {
      out_->writable = false;
    }
    if (written == chunk.size()) return;
  }
  if (pending_offset_ >= pending_.size()) {
    pending_.assign(chunk.data() + written, chunk.size() - written);
    pending_offset_ = 0;
  } else {
    pending_.append(chunk.data() + written, chunk.size() - written);
  }
}

bool Pump::Flush() {
  int fd = sink_->write_fd();
  if (fd < 0) {
    state_ = State::kFailed;
    owner_->OnPumpFailed(
        this, Status::Error(sink_->name() + ": cannot write: the address is "
                                            "read-only here (use -u or -U for one direction)"));
    return false;
  }
  const char* p = pending_.data() + pending_offset_;
  size_t left = pending_.size() - pending_offset_;
  ssize_t w = write(fd, p, left);
  if (w < 0) {
    int err = errno;
    if (err == EAGAIN || err == EINTR) {
      out_->writable = false;
      return false;
    }
    if (sink_datagram_ && err == ECONNREFUSED) {
      LogWarning(sink_->name() + ": send: peer refused the datagram (no listener)");
      pending_.clear();
      pending_offset_ = 0;
      return true;
    }
    Fail("write", err);
    return false;
  }
  sink_->NoteWritten(p, static_cast<size_t>(w));
  pending_offset_ += static_cast<size_t>(w);
  if (pending_offset_ >= pending_.size()) {
    pending_.clear();
    pending_.shrink_to_fit();  // idle connections keep no buffer
    pending_offset_ = 0;
  } else if (StreamKind(sink_->write_kind())) {
    out_->writable = false;
  }
  return true;
}

bool Pump::SpliceStep(bool* progress) {
  constexpr unsigned kFlags = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
  if (pipe_bytes_ > 0 && out_->writable) {
    ssize_t n =
        splice(pipe_.read_end.get(), nullptr, sink_->write_fd(), nullptr, pipe_bytes_, kFlags);
    if (n > 0) {
      pipe_bytes_ -= static_cast<size_t>(n);
      *progress = true;
      owner_->OnPumpActivity();
    } else if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EINTR) {
        out_->writable = false;
      } else {
        Fail("write", err);
        return false;
      }
    }
  }
  if (!eof_ && in_->readable && pipe_bytes_ < pipe_capacity_) {
    ssize_t n = splice(source_->read_fd(), nullptr, pipe_.write_end.get(), nullptr,
                       ReadLimit(pipe_capacity_ - pipe_bytes_), kFlags);
    if (n > 0) {
      NoteRead(static_cast<size_t>(n));
      pipe_bytes_ += static_cast<size_t>(n);
      bytes_ += static_cast<size_t>(n);
      *progress = true;
    } else if (n == 0) {
      eof_ = true;
      *progress = true;
    } else {
      int err = errno;
      if (err == EAGAIN || err == EINTR) {
        // With bytes in the pipe, EAGAIN may mean "pipe full" rather than
        // "source empty"; only an empty pipe proves the source is drained.
        if (pipe_bytes_ == 0) {
          in_->readable = false;
          if (source_program_exited_) {
            eof_ = true;
            *progress = true;
          }
        }
      } else {
        Fail("read", err);
        return false;
      }
    }
  }
  return true;
}

void Pump::SourceProgramExited() {
  source_program_exited_ = true;
  in_->readable = true;  // look once more: drain, then EOF
}

void Pump::SinkProgramExited() {
  sink_program_exited_ = true;
  if (state_ == State::kClosing) state_ = State::kFinished;  // nobody left to tell
}

void Pump::Finish() {
  pipe_ = Pipe();
  pipe_bytes_ = 0;
  bool announce = state_ == State::kRunning;  // a retry was announced already
  Result<CloseWriteState> closed = sink_->CloseWrite();
  if (!closed.ok() && !sink_program_exited_) {
    state_ = State::kFailed;
    owner_->OnPumpFailed(this, closed.status().Prefix(sink_->name()));
    return;
  }
  if (closed.ok() && *closed == CloseWriteState::kLater && !sink_program_exited_) {
    state_ = State::kClosing;
    // 10 ms doubling up to 200 ms: soon for a program about to read its
    // input, cheap for one busy with a long command.
    int delay_ms = std::min(200, 10 << std::min(close_attempts_, 5));
    close_attempts_++;
    owner_->OnPumpCloseLater(this, std::chrono::milliseconds(delay_ms));
  } else {
    state_ = State::kFinished;
  }
  if (announce) owner_->OnPumpFinished(this);
}

void Pump::RetryClose() {
  if (state_ == State::kClosing) Finish();
}

void Pump::Fail(const std::string& what, int err) {
  bool writing = what == "write";
  bool closed_by_peer = err == EPIPE || err == ECONNRESET || err == EIO;
  if (writing && closed_by_peer && (sink_program_exited_ || !sink_->children().empty())) {
    // An EXEC/SYSTEM program closed its input (or exited) without reading
    // all of it, as `head` does: what it did not read is its choice, not a
    // failure of the relay. End this direction like an EOF; the program's
    // output is still relayed. Often the exit is not reported yet.
    LogNotice(sink_->name() + ": the program " +
              (sink_program_exited_ ? "exited" : "closed its input") +
              " before reading all of it");
    pending_.clear();
    pending_offset_ = 0;
    eof_ = true;
    Finish();
    return;
  }
  if (!writing && err == EBADF) {
    // A descriptor open for writing only (FD:1 as a source, a CREATE file,
    // a pipe's write end): there is nothing to read from it.
    LogInfo(source_->name() + ": not open for reading: nothing to relay from it");
    HandleEof();
    owner_->OnPumpYield(this);
    return;
  }
  if (!writing && err == ECONNRESET && !source_->children().empty()) {
    // The program's socketpair end was closed with input left unread in it:
    // everything the program wrote has been read before this error, so it
    // is the program's EOF.
    HandleEof();
    owner_->OnPumpYield(this);
    return;
  }
  state_ = State::kFailed;
  Endpoint* who = writing ? sink_ : source_;
  owner_->OnPumpFailed(this, Status::Errno(what, err).Prefix(who->name()));
}

}  // namespace vmcat

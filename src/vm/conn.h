// Conn: one non-blocking stream connection served by the supervisor (a
// control client, a console viewer, a monitor session), with an output queue
// bounded so that a slow client can never stall the VM.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "loop/loop.h"

namespace vmcat {

class Conn : public IoHandler {
 public:
  /// `max_queued` bounds unsent output; exceeding it closes the connection
  /// (the owner hears about it through on_closed with a reason).
  Conn(Loop* loop, UniqueFd fd, size_t max_queued);
  ~Conn() override;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Status Start();

  /// Bytes read from the peer.
  std::function<void(std::string_view)> on_data;
  /// The peer finished sending (read EOF); writing may continue.
  std::function<void()> on_eof;
  /// The connection is gone (error, overflow, or Close()); called once.
  std::function<void(const std::string& reason)> on_closed;

  void Send(std::string_view data);
  /// Closes once everything queued has been sent.
  void CloseWhenFlushed();
  void Close(const std::string& reason);

  bool closed() const { return closed_; }
  /// Stops reading (e.g. input from a read-only viewer is not wanted).
  void set_discard_input(bool discard) { discard_input_ = discard; }
  size_t queued() const { return out_.size() - out_offset_; }

  void OnIo(int fd, uint32_t events) override;

 private:
  void Flush();
  void UpdateInterest();

  Loop* loop_;
  UniqueFd fd_;
  size_t max_queued_;
  std::string out_;
  size_t out_offset_ = 0;
  bool want_out_ = false;
  bool closed_ = false;
  bool close_when_flushed_ = false;
  bool read_eof_ = false;
  bool discard_input_ = false;
};

/// Splits a byte stream into lines ("\n" or "\r\n"); pure.
class LineSplitter {
 public:
  /// Appends bytes and returns complete lines without their terminators.
  std::vector<std::string> Feed(std::string_view bytes);
  /// Bytes after the last complete line.
  std::string TakeRest();

 private:
  std::string buffer_;
};

/// Creates a listening UNIX stream socket at `path` (replacing a stale file)
/// with the given mode, non-blocking.
Result<UniqueFd> ListenUnixPath(const std::string& path, mode_t mode);
/// Connects to a UNIX stream socket (blocking).
Result<UniqueFd> ConnectUnixPath(const std::string& path);

}  // namespace vmcat

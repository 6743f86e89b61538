// FrameLink: one agent-protocol byte stream on the event loop (a virtio-serial
// port, a vsock or UNIX connection). It decodes incoming frames and queues
// outgoing ones; flow control is per session, above this layer.
#pragma once

#include <functional>
#include <string>

#include "agent/protocol.h"
#include "base/fd.h"
#include "loop/loop.h"

namespace vmcat {

class FrameLink : public IoHandler {
 public:
  FrameLink(Loop* loop, UniqueFd fd, std::string name);
  ~FrameLink() override;
  FrameLink(const FrameLink&) = delete;
  FrameLink& operator=(const FrameLink&) = delete;

  std::function<void(Frame)> on_frame;
  /// The stream ended (EOF, error); called once. The link is inert afterwards.
  std::function<void(Status)> on_closed;

  Status Start();
  void Send(std::string encoded_frame);
  void SendFrame(MessageType type, uint32_t session, std::string_view payload) {
    Send(EncodeFrame(type, session, payload));
  }
  void SendJson(MessageType type, uint32_t session, const Json& payload) {
    Send(EncodeJsonFrame(type, session, payload));
  }
  /// Stops reading (back-pressure) or resumes.
  void PauseReading(bool pause);
  void Close(Status reason);

  bool closed() const { return closed_; }
  size_t queued() const { return out_.size() - out_offset_; }
  const std::string& name() const { return name_; }
  int fd() const { return fd_.get(); }

  void OnIo(int fd, uint32_t events) override;

 private:
  void Flush();
  void UpdateInterest();

  Loop* loop_;
  UniqueFd fd_;
  std::string name_;
  FrameDecoder decoder_;
  std::string out_;
  size_t out_offset_ = 0;
  bool closed_ = false;
  bool paused_ = false;
  uint32_t interest_ = 0;
};

}  // namespace vmcat

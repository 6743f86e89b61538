// CopyClient (host side of `vmcat cp`): one copy into the guest (COPY_IN; we
// send, the agent receives) or out of it (COPY_OUT; the agent sends, we
// receive), over a connected agent link. The copy is done only when the
// receiver's COPY_END arrives (or, copying out, when ours is sent): every
// file then is on disk, verified and in place.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/copy_receiver.h"
#include "agent/copy_sender.h"
#include "agent/link.h"
#include "loop/loop.h"

namespace vmcat {

struct CopyRequest {
  bool into_guest = true;
  /// Into the guest: local paths. Out of it: absolute guest paths.
  std::vector<std::string> sources;
  /// Into the guest: an absolute guest path. Out of it: a local path.
  std::string dest;
  /// Guest user whose permissions apply in the guest (empty: the agent's, root).
  std::string user;
  /// How guest paths are shown in messages: "NAME:" (":" with --vsock).
  std::string remote_prefix;
};

class CopyClient {
 public:
  CopyClient(Loop* loop, CopyRequest request);
  ~CopyClient();

  /// Checks the local side before the agent is contacted: the sources exist
  /// (into the guest), the destination can take them (out of it). Errors
  /// name the local path.
  Status Prepare();

  /// Runs the copy; returns the exit code: 0 done, 1 failed (the message is
  /// printed, naming the path and the reason), 128+N on signal N. A failed
  /// or interrupted copy leaves nothing half-written on either side.
  int Run(std::unique_ptr<FrameLink> link);

 private:
  static constexpr uint32_t kSession = 1;
  void Send(MessageType type, std::string_view payload);
  void OnFrame(const Frame& f);
  void OnSenderFrame(const Frame& f);
  void OnReceiverFrame(const Frame& f);
  void Pump();
  /// Our side failed: tell the agent, undo, and stop with 1.
  void FailLocal(const Status& s);
  /// The agent's side failed.
  void FailRemote(const Frame& error);
  void Finish(int code);
  void PrintWarnings(const std::vector<std::string>& warnings, bool remote);
  std::string ShowRemote(const std::string& message) const;

  Loop* loop_;
  CopyRequest request_;
  std::unique_ptr<FrameLink> link_;
  std::unique_ptr<CopySender> sender_;
  std::unique_ptr<CopyReceiver> receiver_;
  bool finished_ = false;
  int exit_code_ = 1;
};

}  // namespace vmcat

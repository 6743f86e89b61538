// ExecSession (guest side): runs one program for `vmcat exec`, streaming its
// stdin, stdout and stderr (or a pty) with per-direction flow control, and
// reports its exit status only after every byte of its output was sent.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "agent/session.h"
#include "base/fd.h"
#include "loop/loop.h"

namespace vmcat {

class ExecSession : public AgentSession, public IoHandler {
 public:
  ExecSession(Loop* loop, SessionOutput* out);
  ~ExecSession() override;

  /// Starts the program; on failure sends ERROR (with errno) and finishes.
  void Start(const ExecRequest& request);

  void OnFrame(const Frame& frame) override;
  void Abort() override;
  void OnIo(int fd, uint32_t events) override;

 private:
  struct Stream {
    UniqueFd fd;
    MessageType type;
    bool eof = false;
    bool watching = false;
  };
  Status Spawn(const ExecRequest& r);
  /// Reads and sends what is there (within the window); returns the bytes.
  size_t ReadOutput(Stream* s);
  void UpdateWatches();
  void WriteInput();
  void MaybeExit();
  void SendExit();
  void Kill(int sig);
  void ArmDrainTimer();

  Loop* loop_;
  SessionOutput* out_;
  pid_t pid_ = -1;
  bool tty_ = false;
  Stream stdout_{UniqueFd(), MessageType::kStdout};
  Stream stderr_{UniqueFd(), MessageType::kStderr};
  UniqueFd stdin_;
  bool stdin_watching_ = false;
  std::string stdin_buffer_;
  bool stdin_eof_requested_ = false;
  uint64_t stdin_consumed_ = 0;            // bytes taken from the host not yet credited back
  uint32_t send_window_ = kInitialWindow;  // what we may still send the host
  bool exited_ = false;
  int wait_status_ = 0;
  bool exit_sent_ = false;
  bool aborted_ = false;
  bool command_not_found_ = false;
  Loop::TimerId drain_timer_ = 0;
  Loop::TimerId coalesce_timer_ = 0;     // output reading paused to batch it
  std::shared_ptr<ExecSession*> alive_;  // callbacks check it: the session may be gone
};

}  // namespace vmcat

// ExecClient (host side of `vmcat exec`): sends one EXEC, streams stdin to
// it and its stdout/stderr back to ours, forwards signals and window size
// changes, and ends with the program's exit status.
#pragma once

#include <memory>
#include <string>

#include "agent/link.h"
#include "agent/protocol.h"
#include "endpoint/endpoint.h"
#include "loop/loop.h"
#include "tty/terminal.h"

namespace vmcat {

class ExecClient : public IoHandler {
 public:
  /// `forward_stdin`: -i. With request.tty and a terminal on stdin, the
  /// terminal is put in raw mode (restored on every exit path).
  ExecClient(Loop* loop, std::unique_ptr<FrameLink> link, ExecRequest request, bool forward_stdin,
             std::string what);
  ~ExecClient() override;

  /// Runs until the program ends; returns the exit code to use: the
  /// program's, 128+N when a signal killed it, 127/126 when it could not be
  /// started, 255 when the agent could not be reached or was lost.
  int Run();

  void OnIo(int fd, uint32_t events) override;

 private:
  static constexpr uint32_t kSession = 1;
  void OnFrame(Frame f);
  void ReadStdin();
  void UpdateStdinWatch();
  void WriteOutput(int fd, const std::string& data);
  void Finish(int code);
  void SendResize();

  Loop* loop_;
  std::unique_ptr<FrameLink> link_;
  ExecRequest request_;
  bool forward_stdin_;
  std::string what_;
  std::unique_ptr<TerminalGuard> terminal_;
  FlagsGuard stdin_flags_;
  bool stdin_open_ = false;
  bool stdin_watching_ = false;
  uint32_t send_window_ = kInitialWindow;
  uint32_t unsent_credit_ = 0;  // written out, not yet credited back
  bool started_ = false;
  int exit_code_ = 255;
  bool finished_ = false;
  int last_signal_ = 0;
  Clock::time_point last_signal_time_;
  static constexpr auto kGiveUpWindow = std::chrono::seconds(2);
};

}  // namespace vmcat

// Supervisor: the small per-VM process that `vmcat up` leaves behind.
//
// It owns QEMU (its child), the only QMP connection, the serial console and
// the runtime directory's sockets: ctl.sock (vmcat's control protocol),
// serial.sock (raw console) and monitor.sock (an HMP monitor emulated over
// QMP, so several clients can use it at once and nobody steals QEMU's single
// monitor connection). It records how the VM ended and exits when QEMU does.
// Single-threaded; everything runs on one Loop.
#pragma once

#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "loop/loop.h"
#include "qmp/qmp_client.h"
#include "vm/agent_router.h"
#include "vm/config.h"
#include "vm/conn.h"
#include "vm/control_protocol.h"
#include "vm/runtime.h"
#include "vm/serial_hub.h"

namespace vmcat {

class Supervisor : public IoHandler {
 public:
  Supervisor(Loop* loop, VmConfig config, VmPaths paths, std::string accel);
  ~Supervisor() override;

  /// Starts QEMU and everything around it. `ready` runs once: OK as soon as
  /// QMP answers, or the error (with QEMU's own message) if it never does.
  /// The loop stops when the VM is gone.
  void Start(std::function<void(Status)> ready);

  int exit_code() const { return exit_code_; }
  /// Powers the VM down (ACPI, then quit after `timeout` seconds, then kill);
  /// `force` kills QEMU at once.
  void Stop(double timeout, bool force) { BeginStop(timeout, force); }

  void OnIo(int fd, uint32_t events) override;

 private:
  struct Client;
  enum class Listening { kControl, kSerial, kMonitor };

  Status StartListeners();
  Status SpawnQemu();
  void OnQmpReady(Status status);
  void OnQmpEvent(const QmpMessage& event);
  void OnQemuExit(int wait_status);
  void ReadQemuStderr();
  void Accept(int listen_fd);
  void ScheduleTextRelease();
  void OnControlLine(Client* c, const std::string& line, std::string rest);
  void StartMonitorSession(Client* c);
  void MonitorInput(Client* c, std::string_view bytes);
  void RunNextMonitorCommand(Client* c);
  void BeginStop(double timeout, bool force);
  void SetState(VmRunState state);
  void SaveState();
  void RemoveClient(Client* c);
  /// Hands a control connection over to another owner (serial hub, agent).
  std::unique_ptr<Conn> TakeConn(Client* c);
  void Finish(Status ready_error);
  void ReportReady(Status s);

  Loop* loop_;
  VmConfig config_;
  VmPaths paths_;
  VmState state_;
  DirLock lock_;
  std::function<void(Status)> ready_;

  pid_t qemu_pid_ = 0;
  bool qemu_exited_ = false;
  UniqueFd qemu_stderr_;
  UniqueFd qemu_log_;
  std::deque<std::string> stderr_tail_;
  std::string stderr_partial_;
  std::unique_ptr<QmpClient> qmp_;
  std::unique_ptr<SerialHub> serial_;
  UniqueFd agent_fd_;  // our end of the guest agent channel, until the router owns it
  std::unique_ptr<AgentRouter> agent_;
  std::string last_shutdown_reason_;
  bool guest_panicked_ = false;
  bool stop_requested_ = false;
  bool kill_sent_ = false;
  Loop::TimerId startup_timer_ = 0;
  Loop::TimerId text_release_timer_ = 0;
  Loop::TimerId stop_timer_ = 0;

  UniqueFd listen_ctl_, listen_serial_, listen_monitor_;
  std::list<std::unique_ptr<Client>> clients_;
  std::vector<Client*> event_subscribers_;
  std::vector<Client*> stop_waiters_;
  std::deque<std::string> monitor_history_;  // shared by monitor sessions
  std::string qemu_version_ = "7.2";
  int exit_code_ = 0;
  bool finished_ = false;
};

/// Runs the supervisor for `config` in this process until the VM is gone.
/// Reports readiness through `ready_fd` ("OK\n" or "ERR <message>\n") and
/// closes it; used by `vmcat up` after it forks. Returns the exit code.
int RunSupervisor(const VmConfig& config, const VmPaths& paths, const std::string& accel,
                  int ready_fd);

}  // namespace vmcat

#include "vm/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/resident.h"
#include "base/strings.h"
#include "tty/line_editor.h"
#include "vm/qemu_args.h"

namespace vmcat {

namespace {
constexpr size_t kClientQueue = 8 << 20;
constexpr size_t kStderrTailLines = 20;
constexpr auto kStartupTimeout = std::chrono::seconds(30);
constexpr auto kQuitGrace = std::chrono::seconds(5);
constexpr auto kTextReleaseDelay = std::chrono::seconds(3);

int64_t Now() {
  return static_cast<int64_t>(time(nullptr));
}

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::nanoseconds(static_cast<int64_t>(s * 1e9));
}

void ReleaseTextNow() {
  auto released = ReleaseProgramText();
  if (!released.ok()) LogWarning(released.status().message());
}
}  // namespace

struct Supervisor::Client {
  enum class Role { kControl, kMonitor, kEvents, kWaiting };
  Role role = Role::kControl;
  std::unique_ptr<Conn> conn;
  LineSplitter lines;
  bool request_seen = false;
  // Monitor sessions.
  std::unique_ptr<LineEditor> editor;
  std::deque<std::string> queue;
  std::string input;  // typed but not yet fed to the editor
  bool busy = false;
  bool eof = false;         // the client closed its sending side
  bool editor_eof = false;  // Ctrl-D on an empty line
};

Supervisor::Supervisor(Loop* loop, VmConfig config, VmPaths paths, std::string accel)
    : loop_(loop), config_(std::move(config)), paths_(std::move(paths)) {
  state_.name = config_.name;
  state_.accel = std::move(accel);
  state_.supervisor_pid = getpid();
  state_.config_source = config_.source;
  state_.agent = config_.agent;
  for (const NetConfig& n : config_.nets) {
    if (n.type == NetConfig::Type::kUser) state_.user_netdevs.push_back(n.id);
  }
}

Supervisor::~Supervisor() {
  for (UniqueFd* fd : {&listen_ctl_, &listen_serial_, &listen_monitor_}) {
    if (fd->valid()) loop_->Remove(fd->get());
  }
  if (qemu_stderr_.valid()) loop_->Remove(qemu_stderr_.get());
  clients_.clear();
  if (qemu_pid_ > 0 && !qemu_exited_) kill(qemu_pid_, SIGKILL);
}

void Supervisor::ReportReady(Status s) {
  if (!ready_) return;
  auto ready = std::move(ready_);
  ready_ = nullptr;
  ready(s);
}

void Supervisor::SaveState() {
  Status s = WriteState(paths_.state, state_);
  if (!s.ok()) LogError(s.message());
}

void Supervisor::SetState(VmRunState st) {
  if (state_.state == st) return;
  state_.state = st;
  SaveState();
}

void Supervisor::Start(std::function<void(Status)> ready) {
  ready_ = std::move(ready);
  auto lock = DirLock::Acquire(paths_.lock);
  if (!lock.ok()) return Finish(Status::Error("VM " + Quote(config_.name) + " is already running"));
  lock_ = std::move(lock).value();
  state_.started_at = Now();
  SaveState();
  Status s = StartListeners();
  if (s.ok()) s = SpawnQemu();
  if (!s.ok()) return Finish(s);
  startup_timer_ = loop_->AddTimer(kStartupTimeout, [this] {
    startup_timer_ = 0;
    if (qmp_ && qmp_->ready()) return;
    LogError("QEMU did not answer on QMP within 30 s; killing it");
    kill_sent_ = true;
    kill(qemu_pid_, SIGKILL);
  });
}

Status Supervisor::StartListeners() {
  VMCAT_ASSIGN_OR_RETURN(listen_ctl_, ListenUnixPath(paths_.ctl, 0600));
  VMCAT_ASSIGN_OR_RETURN(listen_serial_, ListenUnixPath(paths_.serial, 0600));
  VMCAT_ASSIGN_OR_RETURN(listen_monitor_, ListenUnixPath(paths_.monitor, 0600));
  for (UniqueFd* fd : {&listen_ctl_, &listen_serial_, &listen_monitor_}) {
    VMCAT_RETURN_IF_ERROR(loop_->Add(fd->get(), EPOLLIN, this));
  }
  return Status::Ok();
}

Status Supervisor::SpawnQemu() {
  int qmp_pair[2], serial_pair[2], agent_pair[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_pair) < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, serial_pair) < 0) {
    return Status::Errno("socketpair", errno);
  }
  UniqueFd qmp_ours(qmp_pair[0]), qmp_theirs(qmp_pair[1]);
  UniqueFd serial_ours(serial_pair[0]), serial_theirs(serial_pair[1]);
  UniqueFd agent_theirs;
  if (config_.agent) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent_pair) < 0) {
      return Status::Errno("socketpair", errno);
    }
    agent_fd_.reset(agent_pair[0]);
    agent_theirs.reset(agent_pair[1]);
  }
  VMCAT_ASSIGN_OR_RETURN(Pipe err_pipe, MakePipe(0));
  VMCAT_ASSIGN_OR_RETURN(Pipe exec_status, MakePipe(0));
  qemu_log_.reset(open(paths_.qemu_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));

  QemuFds fds{qmp_theirs.get(), serial_theirs.get(), agent_theirs.get()};
  std::vector<std::string> args = BuildQemuArgs(config_, state_.accel, fds);
  std::vector<char*> argv;
  for (std::string& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  {
    std::string line = "starting:";
    for (const std::string& a : args)
      line += " " + a;
    LogNotice(line);
  }

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Status::Errno("fork", errno);
  if (pid == 0) {
    // QEMU must not outlive its supervisor: nobody else could manage it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    RestoreSignalsForChild();
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(err_pipe.write_end.get(), 1);
    dup2(err_pipe.write_end.get(), 2);
    for (int fd : {fds.qmp, fds.serial, fds.agent}) {
      if (fd >= 0) SetCloseOnExec(fd, false).ok();
    }
    execvp(argv[0], argv.data());
    int err = errno;
    (void)!write(exec_status.write_end.get(), &err, sizeof err);
    _exit(127);
  }
  qemu_pid_ = pid;
  state_.qemu_pid = pid;
  exec_status.write_end.reset();
  err_pipe.write_end.reset();
  int exec_errno = 0;
  if (read(exec_status.read_end.get(), &exec_errno, sizeof exec_errno) ==
      static_cast<ssize_t>(sizeof exec_errno)) {
    waitpid(pid, nullptr, 0);
    qemu_exited_ = true;
    return Status::Errno("exec " + config_.qemu, exec_errno);
  }
  VMCAT_RETURN_IF_ERROR(loop_->WatchChild(pid, [this](int status) { OnQemuExit(status); }));
  qemu_stderr_ = std::move(err_pipe.read_end);
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(qemu_stderr_.get(), true));
  VMCAT_RETURN_IF_ERROR(loop_->Add(qemu_stderr_.get(), EPOLLIN, this));

  if (agent_fd_.valid()) {
    agent_ = std::make_unique<AgentRouter>(loop_, std::move(agent_fd_));
    VMCAT_RETURN_IF_ERROR(agent_->Start());
  }
  serial_ = std::make_unique<SerialHub>(
      loop_, std::move(serial_ours),
      RotatingLog(paths_.serial_log, config_.serial_log_size, config_.serial_log_files));
  VMCAT_RETURN_IF_ERROR(serial_->Start());

  qmp_ = std::make_unique<QmpClient>(loop_, std::move(qmp_ours));
  return qmp_->Start([this](Status s) { OnQmpReady(s); },
                     [this](const QmpMessage& m) { OnQmpEvent(m); },
                     [](Status s) { LogInfo("QMP: " + s.message()); });
}

void Supervisor::OnQmpReady(Status status) {
  if (!status.ok()) return;  // QEMU is exiting; OnQemuExit reports why
  const Json& v = qmp_->greeting()["version"]["qemu"];
  if (v.is_object()) {
    qemu_version_ = std::to_string(v.value("major", 0)) + "." +
                    std::to_string(v.value("minor", 0)) + "." + std::to_string(v.value("micro", 0));
  }
  qmp_->Execute("query-status", Json::object(), [this](Result<QmpMessage> r) {
    if (!r.ok() || r->kind != QmpMessageKind::kReturn) return;
    std::string status = r->body["return"].value("status", "");
    SetState(status == "running" ? VmRunState::kRunning : VmRunState::kPaused);
    if (startup_timer_) loop_->CancelTimer(startup_timer_);
    startup_timer_ = 0;
    LogNotice("VM " + config_.name + " is " + ToString(state_.state));
    ReportReady(Status::Ok());
  });
}

void Supervisor::OnQmpEvent(const QmpMessage& m) {
  if (m.event == "SHUTDOWN") {
    last_shutdown_reason_ = m.body["data"].value("reason", "");
  } else if (m.event == "STOP") {
    if (state_.state == VmRunState::kRunning) SetState(VmRunState::kPaused);
  } else if (m.event == "RESUME") {
    if (state_.state == VmRunState::kPaused) SetState(VmRunState::kRunning);
  } else if (m.event == "GUEST_PANICKED") {
    guest_panicked_ = true;
  } else if (m.event == "VSERPORT_CHANGE" && agent_ &&
             m.body["data"].value("id", "") == kAgentPortId) {
    agent_->PortChanged(m.body["data"].value("open", false));
  }
  std::string line = m.body.dump() + "\n";
  for (Client* c : event_subscribers_)
    c->conn->Send(line);
}

void Supervisor::ReadQemuStderr() {
  if (!qemu_stderr_.valid()) return;
  char buf[4096];
  while (true) {
    ssize_t n = read(qemu_stderr_.get(), buf, sizeof buf);
    if (n > 0) {
      if (qemu_log_.valid()) (void)WriteAll(qemu_log_.get(), buf, static_cast<size_t>(n));
      stderr_partial_.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = stderr_partial_.find('\n')) != std::string::npos) {
        stderr_tail_.push_back(stderr_partial_.substr(0, nl));
        stderr_partial_.erase(0, nl + 1);
        if (stderr_tail_.size() > kStderrTailLines) stderr_tail_.pop_front();
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    loop_->Remove(qemu_stderr_.get());
    qemu_stderr_.reset();
    return;
  }
}

void Supervisor::OnQemuExit(int wait_status) {
  qemu_exited_ = true;
  ReadQemuStderr();
  if (!stderr_partial_.empty()) stderr_tail_.push_back(stderr_partial_);
  if (serial_) serial_->Drain();
  VmRunState final_state = VmRunState::kStopped;
  std::string reason;
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    if (kill_sent_ && sig == SIGKILL) {
      reason = "killed by vmcat (stop --force or no answer)";
    } else {
      reason = std::string("QEMU was killed by signal ") + std::to_string(sig) + " (" +
               strsignal(sig) + ")";
      final_state = VmRunState::kCrashed;
    }
  } else {
    int code = WEXITSTATUS(wait_status);
    const std::string& r = last_shutdown_reason_;
    if (guest_panicked_ || r == "guest-panic") {
      reason = "guest panicked";
      final_state = VmRunState::kCrashed;
    } else if (r == "guest-shutdown") {
      reason = "guest powered off";
    } else if (r == "host-qmp-quit") {
      reason = "quit through the monitor or QMP";
    } else if (r == "host-signal") {
      reason = "QEMU received a termination signal";
    } else if (r == "guest-reset") {
      reason = "guest reset (no_reboot is set)";
    } else if (!r.empty()) {
      reason = "shutdown: " + r;
    } else if (code == 0) {
      reason = "QEMU exited";
    } else {
      reason = "QEMU exited with status " + std::to_string(code);
      final_state = VmRunState::kCrashed;
    }
  }
  state_.reason = reason;
  state_.last_stderr.assign(stderr_tail_.begin(), stderr_tail_.end());
  state_.ended_at = Now();
  state_.state = final_state;
  SaveState();
  LogNotice("VM " + config_.name + " " + ToString(final_state) + ": " + reason);
  Status not_ready = Status::Error("QEMU exited before it was ready: " + reason);
  if (!state_.last_stderr.empty()) {
    std::string text;
    for (const std::string& l : state_.last_stderr)
      text += "\n  " + l;
    not_ready = Status::Error("QEMU exited before it was ready (" + reason + "):" + text);
  }
  Finish(not_ready);
}

void Supervisor::Finish(Status ready_error) {
  if (finished_) return;
  finished_ = true;
  ReportReady(ready_error);
  exit_code_ = state_.state == VmRunState::kCrashed ? 1 : 0;
  if (qemu_pid_ > 0 && !qemu_exited_) {
    // Start-up failed after spawning (e.g. a listener error): don't leave QEMU behind.
    kill(qemu_pid_, SIGKILL);
    waitpid(qemu_pid_, nullptr, 0);
    qemu_exited_ = true;
    state_.state = VmRunState::kCrashed;
    state_.reason = ready_error.message();
    state_.ended_at = Now();
    SaveState();
    exit_code_ = 1;
  }
  // The record is final before anyone hears that the VM is gone, so that a
  // `vmcat stop` followed at once by `vmcat rm` or `vmcat up` sees it stopped.
  for (UniqueFd* fd : {&listen_ctl_, &listen_serial_, &listen_monitor_}) {
    if (fd->valid()) loop_->Remove(fd->get());
    fd->reset();
  }
  RemoveRuntimeFiles(paths_, /*keep_logs=*/true);
  lock_ = DirLock();
  Json result = {{"state", ToString(state_.state)}, {"reason", state_.reason}};
  for (Client* c : stop_waiters_)
    c->conn->Send(ControlOk(result));
  for (auto& c : clients_)
    c->conn->CloseWhenFlushed();
  if (serial_) serial_->DetachAll();
  // Give clients a moment to receive their last bytes, then go.
  loop_->AddTimer(std::chrono::milliseconds(200), [this] { loop_->Stop(); });
}

void Supervisor::OnIo(int fd, uint32_t events) {
  if (fd == qemu_stderr_.get()) return ReadQemuStderr();
  Accept(fd);
}

// A client's requests fault in code (monitor, logs, QMP, ...) that an idle
// supervisor does not need: a while after the last connection came, let it go
// again (see ReleaseProgramText). One timer per burst of clients; none while
// nothing happens.
void Supervisor::ScheduleTextRelease() {
  if (text_release_timer_) loop_->CancelTimer(text_release_timer_);
  text_release_timer_ = loop_->AddTimer(kTextReleaseDelay, [this] {
    text_release_timer_ = 0;
    ReleaseTextNow();
  });
}

void Supervisor::Accept(int listen_fd) {
  while (true) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    ScheduleTextRelease();
    auto conn = std::make_unique<Conn>(loop_, UniqueFd(fd), kClientQueue);
    if (!conn->Start().ok()) continue;
    if (listen_fd == listen_serial_.get()) {
      SerialHub::AttachOptions o;
      serial_->Attach(std::move(conn), o, "");
      continue;
    }
    auto client = std::make_unique<Client>();
    Client* c = client.get();
    c->conn = std::move(conn);
    clients_.push_back(std::move(client));
    c->conn->on_closed = [this, c](const std::string&) {
      loop_->Post([this, c] { RemoveClient(c); });
    };
    if (listen_fd == listen_monitor_.get()) {
      StartMonitorSession(c);
      continue;
    }
    c->conn->on_data = [this, c](std::string_view bytes) {
      if (c->request_seen) return;
      auto lines = c->lines.Feed(bytes);
      if (lines.empty()) return;
      c->request_seen = true;
      std::string rest;
      for (size_t i = 1; i < lines.size(); ++i)
        rest += lines[i] + "\n";
      rest += c->lines.TakeRest();
      OnControlLine(c, lines[0], std::move(rest));
    };
    c->conn->on_eof = [c] {
      if (!c->request_seen) c->conn->Close("no request");
    };
  }
}

std::unique_ptr<Conn> Supervisor::TakeConn(Client* c) {
  std::unique_ptr<Conn> conn;
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->get() == c) {
      conn = std::move((*it)->conn);
      clients_.erase(it);
      break;
    }
  }
  conn->on_data = nullptr;
  conn->on_eof = nullptr;
  conn->on_closed = nullptr;
  return conn;
}

void Supervisor::RemoveClient(Client* c) {
  std::erase(event_subscribers_, c);
  std::erase(stop_waiters_, c);
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->get() == c) {
      clients_.erase(it);
      return;
    }
  }
}

void Supervisor::OnControlLine(Client* c, const std::string& line, std::string rest) {
  auto parsed = ParseControlRequest(line);
  if (!parsed.ok()) {
    c->conn->Send(ControlError(parsed.status().message()));
    return c->conn->CloseWhenFlushed();
  }
  const ControlRequest& r = *parsed;
  bool qmp_ready = qmp_ && qmp_->ready() && !qemu_exited_;
  switch (r.op) {
    case ControlOp::kStatus:
      c->conn->Send(ControlOk(
          {{"vm", state_.ToJson()},
           {"sockets",
            {{"control", paths_.ctl}, {"serial", paths_.serial}, {"monitor", paths_.monitor}}},
           {"qemu_version", qemu_version_},
           {"agent",
            {{"enabled", agent_ != nullptr},
             {"up", agent_ && agent_->up()},
             {"version", agent_ ? agent_->agent_version() : ""}}}}));
      return c->conn->CloseWhenFlushed();
    case ControlOp::kHmp:
    case ControlOp::kQmp: {
      if (!qmp_ready) {
        c->conn->Send(ControlError("VM " + config_.name + " is " + ToString(state_.state)));
        return c->conn->CloseWhenFlushed();
      }
      c->role = Client::Role::kWaiting;
      Conn* conn = c->conn.get();
      std::string name = r.op == ControlOp::kHmp ? "human-monitor-command" : r.execute;
      Json args = r.op == ControlOp::kHmp ? Json{{"command-line", r.command}} : r.arguments;
      // The client may be gone when the answer comes: look it up again.
      qmp_->Execute(name, args, [this, c, conn, op = r.op](Result<QmpMessage> m) {
        bool alive = false;
        for (auto& cl : clients_)
          alive = alive || cl.get() == c;
        if (!alive || conn->closed()) return;
        if (!m.ok()) {
          conn->Send(ControlError(m.status().message()));
        } else if (m->kind == QmpMessageKind::kError) {
          Json extra = {{"ok", false},
                        {"error", m->error_class + ": " + m->error_desc},
                        {"qmp_error", m->body["error"]}};
          conn->Send(extra.dump() + "\n");
        } else if (op == ControlOp::kHmp) {
          const Json& ret = m->body["return"];
          conn->Send(ControlOk({{"output", ret.is_string() ? ret.get<std::string>() : ""}}));
        } else {
          conn->Send(ControlOk({{"return", m->body["return"]}}));
        }
        conn->CloseWhenFlushed();
      });
      return;
    }
    case ControlOp::kEvents:
      c->role = Client::Role::kEvents;
      c->conn->Send(ControlOk());
      event_subscribers_.push_back(c);
      return;
    case ControlOp::kConsole:
    case ControlOp::kLogs: {
      bool console = r.op == ControlOp::kConsole;
      std::string preamble;
      if (!console) {
        auto logs = RotatingLog::ReadAll(paths_.serial_log, config_.serial_log_files);
        preamble = ControlOk() + (logs.ok() ? *logs : std::string());
        if (!r.follow || qemu_exited_) {
          c->conn->Send(preamble);
          return c->conn->CloseWhenFlushed();
        }
      }
      SerialHub::AttachOptions o;
      o.interactive = console;
      o.force = r.force;
      o.history = console && r.history;
      o.preamble = [console, preamble](bool keyboard) {
        return console ? ControlOk({{"keyboard", keyboard}}) : preamble;
      };
      serial_->Attach(TakeConn(c), o, console ? rest : "");
      return;
    }
    case ControlOp::kAgent: {
      std::string why;
      if (!agent_) {
        why = "VM " + config_.name + " was started without the agent channel (vmcat up --agent)";
      } else if (qemu_exited_) {
        why = "VM " + config_.name + " is " + ToString(state_.state);
      } else if (!agent_->up()) {
        why = "agent unreachable: " + agent_->DownReason();
      }
      if (!why.empty()) {
        c->conn->Send(ControlError(why));
        return c->conn->CloseWhenFlushed();
      }
      c->conn->Send(ControlOk({{"agent", agent_->agent_version()}}));
      agent_->AddClient(TakeConn(c), rest);
      return;
    }
    case ControlOp::kStop:
      c->role = Client::Role::kWaiting;
      stop_waiters_.push_back(c);
      BeginStop(r.timeout, r.force);
      return;
  }
}

void Supervisor::BeginStop(double timeout, bool force) {
  if (qemu_exited_) return;
  if (force) {
    kill_sent_ = true;
    kill(qemu_pid_, SIGKILL);
    return;
  }
  if (stop_requested_) return;
  stop_requested_ = true;
  SetState(VmRunState::kStopping);
  auto quit = [this] {
    stop_timer_ = 0;
    if (qemu_exited_) return;
    LogNotice("guest did not power off in time: quitting QEMU");
    if (qmp_) qmp_->Execute("quit", Json::object(), [](Result<QmpMessage>) {});
    stop_timer_ = loop_->AddTimer(kQuitGrace, [this] {
      stop_timer_ = 0;
      if (qemu_exited_) return;
      kill_sent_ = true;
      kill(qemu_pid_, SIGKILL);
    });
  };
  if (timeout <= 0 || !qmp_ || !qmp_->ready()) {
    quit();
    return;
  }
  qmp_->Execute("system_powerdown", Json::object(), [](Result<QmpMessage>) {});
  stop_timer_ = loop_->AddTimer(Seconds(timeout), quit);
}

void Supervisor::StartMonitorSession(Client* c) {
  c->role = Client::Role::kMonitor;
  c->editor = std::make_unique<LineEditor>("(qemu) ");
  c->editor->set_history(&monitor_history_);
  c->conn->Send("QEMU " + qemu_version_ + " monitor - type 'help' for more information\r\n(qemu) ");
  c->conn->on_data = [this, c](std::string_view bytes) { MonitorInput(c, bytes); };
  c->conn->on_eof = [this, c] {
    c->eof = true;
    RunNextMonitorCommand(c);
  };
}

void Supervisor::MonitorInput(Client* c, std::string_view bytes) {
  c->input.append(bytes);
  RunNextMonitorCommand(c);
}

// Like QEMU's own monitor, input typed while a command runs is echoed and
// executed only after that command's output: feed the editor byte by byte and
// stop at each completed line.
void Supervisor::RunNextMonitorCommand(Client* c) {
  while (!c->busy && !c->conn->closed()) {
    if (c->queue.empty()) {
      if (c->input.empty() || c->editor_eof) break;
      size_t used = 0;
      LineEditor::Output out;
      while (used < c->input.size() && out.lines.empty() && !out.eof) {
        c->editor->Feed(std::string_view(c->input).substr(used, 1), &out);
        used++;
      }
      c->input.erase(0, used);
      c->conn->Send(out.echo);
      for (std::string& line : out.lines)
        c->queue.push_back(std::move(line));
      if (out.eof) c->editor_eof = true;
      continue;
    }
    std::string line = std::move(c->queue.front());
    c->queue.pop_front();
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    while (!line.empty() && line.front() == ' ')
      line.erase(0, 1);
    if (line.empty()) {
      c->conn->Send("(qemu) ");
      continue;
    }
    if (!qmp_ || !qmp_->ready() || qemu_exited_) {
      c->conn->Send("vmcat: VM is " + std::string(ToString(state_.state)) + "\r\n");
      c->conn->CloseWhenFlushed();
      return;
    }
    c->busy = true;
    Conn* conn = c->conn.get();
    qmp_->Hmp(line, [this, c, conn](Result<std::string> r) {
      bool alive = false;
      for (auto& cl : clients_)
        alive = alive || cl.get() == c;
      if (!alive || conn->closed()) return;
      c->busy = false;
      conn->Send(r.ok() ? *r : "Error: " + r.status().message() + "\r\n");
      conn->Send("(qemu) ");
      RunNextMonitorCommand(c);
    });
    return;
  }
  bool input_done = c->editor_eof || (c->eof && c->input.empty());
  if (!c->busy && c->queue.empty() && input_done) c->conn->CloseWhenFlushed();
}

int RunSupervisor(const VmConfig& config, const VmPaths& paths, const std::string& accel,
                  int ready_fd) {
  IgnoreSigpipe();
  Loop loop;
  Supervisor supervisor(&loop, config, paths, accel);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    (void)loop.WatchSignal(sig, [&supervisor](int s) {
      LogNotice("supervisor got signal " + std::to_string(s) + ": quitting QEMU");
      supervisor.Stop(0, false);
    });
  }
  supervisor.Start([ready_fd, &loop](Status s) {
    std::string msg = s.ok() ? "OK\n" : "ERR " + s.message() + "\n";
    (void)WriteAll(ready_fd, msg.data(), msg.size());
    close(ready_fd);
    if (!s.ok()) return;
    // Start-up is over (configuration, QEMU's command line, spawning, the
    // QMP handshake): from now on only the serving code needs to be resident.
    loop.Post([] { ReleaseTextNow(); });
  });
  Status ran = loop.Run();
  if (!ran.ok()) LogError(ran.message());
  return supervisor.exit_code();
}

}  // namespace vmcat

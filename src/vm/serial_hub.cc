#include "vm/serial_hub.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "tty/query_filter.h"

namespace vmcat {

namespace {
constexpr size_t kRingBytes = 64 * 1024;
constexpr size_t kHistoryBytes = 16 * 1024;  // what a new viewer sees first
constexpr size_t kInputQueue = 1 << 20;      // keyboard bytes waiting for QEMU
}  // namespace

SerialHub::SerialHub(Loop* loop, UniqueFd qemu_serial, RotatingLog log)
    : loop_(loop), serial_(std::move(qemu_serial)), log_(std::move(log)), ring_(kRingBytes) {}

SerialHub::~SerialHub() {
  if (serial_.valid()) loop_->Remove(serial_.get());
}

Status SerialHub::Start() {
  VMCAT_RETURN_IF_ERROR(log_.Open());
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(serial_.get(), true));
  return loop_->Add(serial_.get(), EPOLLIN | EPOLLRDHUP, this);
}

void SerialHub::OnIo(int fd, uint32_t events) {
  if (events & EPOLLOUT) FlushInput();
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Drain();
}

void SerialHub::Drain() {
  if (eof_ || !serial_.valid()) return;
  char buf[16384];
  while (true) {
    ssize_t n = read(serial_.get(), buf, sizeof buf);
    if (n > 0) {
      Output(std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    eof_ = true;  // QEMU closed the serial port (it is exiting)
    loop_->Remove(serial_.get());
    return;
  }
}

void SerialHub::Output(std::string_view bytes) {
  Status logged = log_.Append(bytes);
  if (!logged.ok() && !log_error_reported_) {
    log_error_reported_ = true;
    LogError("serial log: " + logged.message());
  }
  ring_.Append(bytes);
  for (auto it = viewers_.begin(); it != viewers_.end();) {
    Viewer* v = (it++)->get();
    if (v->decided) {
      v->conn->Send(bytes);  // may detach a slow viewer
    } else {
      v->early_output.append(bytes);
    }
  }
}

void SerialHub::Attach(std::unique_ptr<Conn> conn, const AttachOptions& o,
                       std::string_view pending_input) {
  auto viewer = std::make_unique<Viewer>();
  Viewer* v = viewer.get();
  v->conn = std::move(conn);
  v->interactive = o.interactive;
  v->early_input = std::string(pending_input);
  viewers_.push_back(std::move(viewer));
  Conn* c = v->conn.get();
  c->on_data = [this, v](std::string_view bytes) { Input(v, bytes); };
  c->on_eof = [this, v] { Remove(v); };
  c->on_closed = [this, v](const std::string& reason) {
    if (reason != "done") LogInfo("console viewer detached: " + reason);
    // Defer: we may be inside this viewer's own callback.
    loop_->Post([this, v] { Remove(v); });
  };
  // Decide who gets the keyboard on the next turn: a viewer that closed just
  // before this one connected (its EOF is in the same batch of events) must
  // not keep the keyboard from it.
  loop_->Post([this, v, o] {
    if (Contains(v)) Decide(v, o);
  });
}

bool SerialHub::Contains(const Viewer* v) const {
  for (const auto& p : viewers_) {
    if (p.get() == v) return true;
  }
  return false;
}

void SerialHub::Decide(Viewer* v, const AttachOptions& o) {
  bool keyboard = o.interactive && (keyboard_ == nullptr || o.force);
  if (keyboard) GiveKeyboard(v, /*announce=*/false);
  v->decided = true;
  Conn* c = v->conn.get();
  if (o.preamble) c->Send(o.preamble(keyboard));
  // The ring already holds what was printed since the attach. Replayed
  // history goes without the terminal questions in it (see query_filter.h):
  // the viewer's terminal would answer them into the guest's input.
  if (o.history) {
    TerminalQueryFilter filter;
    c->Send(filter.Filter(ring_.Tail(kHistoryBytes)) + filter.Finish());
  } else {
    c->Send(v->early_output);
  }
  v->early_output.clear();
  if (eof_) {
    c->CloseWhenFlushed();
    return;
  }
  std::string early = std::move(v->early_input);
  if (!early.empty()) Input(v, early);
}

void SerialHub::GiveKeyboard(Viewer* v, bool announce) {
  if (keyboard_ == v) return;
  if (keyboard_ != nullptr && !keyboard_->conn->closed()) {
    keyboard_->conn->Send("\r\n[vmcat: another viewer took the keyboard; you are read-only]\r\n");
  }
  keyboard_ = v;
  if (announce && v != nullptr) v->conn->Send("\r\n[vmcat: you have the keyboard]\r\n");
}

void SerialHub::Input(Viewer* v, std::string_view bytes) {
  if (v != keyboard_ || eof_) return;                        // read-only viewers' keys are dropped
  if (to_qemu_.size() + bytes.size() > kInputQueue) return;  // QEMU is not reading
  to_qemu_.append(bytes);
  FlushInput();
}

void SerialHub::FlushInput() {
  while (!to_qemu_.empty() && serial_.valid() && !eof_) {
    ssize_t n = send(serial_.get(), to_qemu_.data(), to_qemu_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) to_qemu_.clear();
      break;
    }
    to_qemu_.erase(0, static_cast<size_t>(n));
  }
  bool want = !to_qemu_.empty() && !eof_;
  if (want != want_out_ && serial_.valid() && !eof_) {
    want_out_ = want;
    uint32_t events = EPOLLIN | EPOLLRDHUP;
    if (want) events |= EPOLLOUT;
    (void)loop_->Modify(serial_.get(), events);
  }
}

void SerialHub::Remove(Viewer* v) {
  for (auto it = viewers_.begin(); it != viewers_.end(); ++it) {
    if (it->get() != v) continue;
    std::unique_ptr<Viewer> doomed = std::move(*it);
    viewers_.erase(it);
    if (keyboard_ == v) {
      keyboard_ = nullptr;
      // The longest-attached interactive viewer inherits the keyboard.
      for (auto& other : viewers_) {
        if (other->interactive && other->decided && !other->conn->closed()) {
          GiveKeyboard(other.get(), /*announce=*/true);
          break;
        }
      }
    }
    doomed->conn->on_closed = nullptr;
    doomed->conn->Close("done");
    return;
  }
}

void SerialHub::DetachAll() {
  for (auto& v : viewers_)
    v->conn->CloseWhenFlushed();
}

}  // namespace vmcat

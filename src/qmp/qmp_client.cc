#include "qmp/qmp_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace vmcat {

QmpClient::QmpClient(Loop* loop, UniqueFd socket) : loop_(loop), socket_(std::move(socket)) {}

QmpClient::~QmpClient() {
  if (socket_.valid()) loop_->Remove(socket_.get());
}

Status QmpClient::Start(std::function<void(Status)> ready, EventHandler on_event,
                        ClosedHandler on_closed) {
  on_ready_ = std::move(ready);
  on_event_ = std::move(on_event);
  on_closed_ = std::move(on_closed);
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(socket_.get(), true));
  return loop_->Add(socket_.get(), EPOLLIN | EPOLLRDHUP, this);
}

void QmpClient::Execute(std::string_view command, const Json& arguments, Reply reply) {
  if (closed_) {
    reply(Status::Error("QMP connection closed"));
    return;
  }
  uint64_t id = next_id_++;
  pending_[id] = std::move(reply);
  output_ += EncodeQmpCommand(command, arguments, id);
  FlushOutput();
}

void QmpClient::Hmp(std::string_view command_line, std::function<void(Result<std::string>)> reply) {
  Execute("human-monitor-command", Json{{"command-line", std::string(command_line)}},
          [reply = std::move(reply)](Result<QmpMessage> r) {
            if (!r.ok()) return reply(r.status());
            if (r->kind == QmpMessageKind::kError) {
              return reply(Status::Error(r->error_desc));
            }
            const Json& ret = r->body["return"];
            reply(ret.is_string() ? ret.get<std::string>() : std::string());
          });
}

void QmpClient::FlushOutput() {
  while (!output_.empty()) {
    ssize_t n = send(socket_.get(), output_.data(), output_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return Fail(Status::Errno("QMP write", errno));
    }
    output_.erase(0, static_cast<size_t>(n));
  }
  bool want = !output_.empty();
  if (want != want_write_) {
    want_write_ = want;
    uint32_t events = EPOLLIN | EPOLLRDHUP;
    if (want) events |= EPOLLOUT;
    (void)loop_->Modify(socket_.get(), events);
  }
}

void QmpClient::OnIo(int fd, uint32_t events) {
  if (events & EPOLLOUT) FlushOutput();
  if (closed_) return;
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      std::vector<QmpMessage> messages;
      (void)decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)), &messages);
      for (QmpMessage& m : messages) {
        Dispatch(std::move(m));
        if (closed_) return;
      }
      continue;
    }
    if (n == 0) return Fail(Status::Error("QMP connection closed by QEMU"));
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;
    return Fail(Status::Errno("QMP read", errno));
  }
}

void QmpClient::Dispatch(QmpMessage m) {
  switch (m.kind) {
    case QmpMessageKind::kGreeting:
      greeting_ = m.body["QMP"];
      Execute("qmp_capabilities", Json::object(), [this](Result<QmpMessage> r) {
        Status s = !r.ok() ? r.status()
                   : r->kind == QmpMessageKind::kError
                       ? Status::Error("qmp_capabilities: " + r->error_desc)
                       : Status::Ok();
        ready_ = s.ok();
        if (on_ready_) {
          auto ready = std::move(on_ready_);
          ready(s);
        }
      });
      return;
    case QmpMessageKind::kEvent:
      if (on_event_) on_event_(m);
      return;
    case QmpMessageKind::kReturn:
    case QmpMessageKind::kError: {
      if (!m.id) return;  // not ours
      auto it = pending_.find(*m.id);
      if (it == pending_.end()) return;
      Reply reply = std::move(it->second);
      pending_.erase(it);
      reply(std::move(m));
      return;
    }
  }
}

void QmpClient::Fail(Status status) {
  if (closed_) return;
  closed_ = true;
  loop_->Remove(socket_.get());
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, reply] : pending)
    reply(status);
  if (on_ready_) {
    auto ready = std::move(on_ready_);
    ready(status);
  }
  if (on_closed_) on_closed_(status);
}

}  // namespace vmcat

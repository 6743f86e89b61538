#include "vm/conn.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "endpoint/sockaddr.h"

namespace vmcat {

Conn::Conn(Loop* loop, UniqueFd fd, size_t max_queued)
    : loop_(loop), fd_(std::move(fd)), max_queued_(max_queued) {}

Conn::~Conn() {
  if (fd_.valid()) loop_->Remove(fd_.get());
}

Status Conn::Start() {
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(fd_.get(), true));
  return loop_->Add(fd_.get(), EPOLLIN | EPOLLRDHUP, this);
}

void Conn::Send(std::string_view data) {
  if (closed_ || data.empty()) return;
  if (queued() + data.size() > max_queued_) {
    Close("too slow: more than " + std::to_string(max_queued_) + " bytes waiting");
    return;
  }
  if (out_offset_ > 0 && out_offset_ == out_.size()) {
    out_.clear();
    out_offset_ = 0;
  }
  out_.append(data);
  Flush();
}

void Conn::Flush() {
  while (!closed_ && out_offset_ < out_.size()) {
    ssize_t n = send(fd_.get(), out_.data() + out_offset_, out_.size() - out_offset_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      Close(std::string("write: ") + strerror(errno));
      return;
    }
    out_offset_ += static_cast<size_t>(n);
  }
  if (closed_) return;
  if (out_offset_ == out_.size()) {
    out_.clear();
    out_offset_ = 0;
    if (close_when_flushed_) {
      Close("done");
      return;
    }
  }
  UpdateInterest();
}

void Conn::UpdateInterest() {
  bool want = out_offset_ < out_.size();
  if (want == want_out_ || closed_) return;
  want_out_ = want;
  // After the peer's EOF, EPOLLIN/EPOLLRDHUP would stay asserted forever.
  uint32_t events = read_eof_ ? 0u : static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP);
  if (want) events |= EPOLLOUT;
  (void)loop_->Modify(fd_.get(), events);
}

void Conn::CloseWhenFlushed() {
  close_when_flushed_ = true;
  if (queued() == 0) Close("done");
}

void Conn::Close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  loop_->Remove(fd_.get());
  fd_.reset();
  if (on_closed) {
    auto cb = std::move(on_closed);
    cb(reason);
  }
}

void Conn::OnIo(int fd, uint32_t events) {
  if (events & EPOLLOUT) Flush();
  if (closed_) return;
  if (read_eof_) {
    if (events & (EPOLLERR | EPOLLHUP)) Close("connection closed");
    return;
  }
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  char buf[16384];
  while (!closed_) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      if (!discard_input_ && on_data) on_data(std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) {
      read_eof_ = true;
      // Stop polling for input; keep the fd for output.
      uint32_t ev = queued() > 0 ? static_cast<uint32_t>(EPOLLOUT) : 0u;
      want_out_ = queued() > 0;
      (void)loop_->Modify(fd_.get(), ev);
      if (on_eof) on_eof();
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;
    Close(std::string("read: ") + strerror(errno));
    return;
  }
}

std::vector<std::string> LineSplitter::Feed(std::string_view bytes) {
  buffer_.append(bytes);
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    size_t nl = buffer_.find('\n', start);
    if (nl == std::string::npos) break;
    size_t end = nl;
    if (end > start && buffer_[end - 1] == '\r') end--;
    lines.emplace_back(buffer_.substr(start, end - start));
    start = nl + 1;
  }
  buffer_.erase(0, start);
  return lines;
}

std::string LineSplitter::TakeRest() {
  return std::exchange(buffer_, std::string());
}

Result<UniqueFd> ListenUnixPath(const std::string& path, mode_t mode) {
  VMCAT_ASSIGN_OR_RETURN(SocketAddress addr, MakeUnixAddress(path, false));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Status::Errno("socket", errno);
  unlink(path.c_str());
  if (bind(fd.get(), addr.get(), addr.length) < 0) return Status::Errno("bind " + path, errno);
  if (chmod(path.c_str(), mode) < 0) return Status::Errno("chmod " + path, errno);
  if (listen(fd.get(), 64) < 0) return Status::Errno("listen " + path, errno);
  return fd;
}

Result<UniqueFd> ConnectUnixPath(const std::string& path) {
  VMCAT_ASSIGN_OR_RETURN(SocketAddress addr, MakeUnixAddress(path, false));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Errno("socket", errno);
  if (connect(fd.get(), addr.get(), addr.length) < 0) {
    return Status::Errno("connect " + path, errno);
  }
  return fd;
}

}  // namespace vmcat

#include "agent/link.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/log.h"

namespace vmcat {

FrameLink::FrameLink(Loop* loop, UniqueFd fd, std::string name)
    : loop_(loop), fd_(std::move(fd)), name_(std::move(name)) {}

FrameLink::~FrameLink() {
  if (fd_.valid() && interest_ != 0) loop_->Remove(fd_.get());
}

Status FrameLink::Start() {
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(fd_.get(), true));
  UpdateInterest();
  return Status::Ok();
}

void FrameLink::UpdateInterest() {
  if (closed_) return;
  uint32_t want = (paused_ ? 0u : static_cast<uint32_t>(EPOLLIN)) |
                  (queued() > 0 ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  if (want == interest_) return;
  if (interest_ == 0) {
    Status s = loop_->Add(fd_.get(), want, this);
    if (!s.ok()) {
      Close(s.Prefix(name_));
      return;
    }
  } else if (want == 0) {
    loop_->Remove(fd_.get());
  } else {
    (void)loop_->Modify(fd_.get(), want);
  }
  interest_ = want;
}

void FrameLink::Send(std::string frame) {
  if (closed_) return;
  if (out_offset_ > 0 && out_offset_ == out_.size()) {
    out_.clear();
    out_offset_ = 0;
  }
  out_.append(frame);
  Flush();
}

void FrameLink::Flush() {
  while (!closed_ && out_offset_ < out_.size()) {
    ssize_t n = write(fd_.get(), out_.data() + out_offset_, out_.size() - out_offset_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      Close(Status::Errno(name_ + ": write", errno));
      return;
    }
    out_offset_ += static_cast<size_t>(n);
  }
  if (out_offset_ == out_.size()) {
    out_.clear();
    out_offset_ = 0;
  } else if (out_offset_ > (1 << 20)) {
    out_.erase(0, out_offset_);
    out_offset_ = 0;
  }
  UpdateInterest();
}

void FrameLink::PauseReading(bool pause) {
  paused_ = pause;
  UpdateInterest();
}

void FrameLink::Close(Status reason) {
  if (closed_) return;
  closed_ = true;
  if (interest_ != 0) loop_->Remove(fd_.get());
  interest_ = 0;
  fd_.reset();
  if (on_closed) {
    auto cb = std::move(on_closed);
    on_closed = nullptr;
    cb(reason);
  }
}

void FrameLink::OnIo(int fd, uint32_t events) {
  if (events & EPOLLOUT) Flush();
  if (closed_ || paused_) return;
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  char buf[65536];
  for (int rounds = 0; rounds < 16 && !closed_ && !paused_; ++rounds) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      std::vector<Frame> frames;
      Status s = decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)), &frames);
      if (!s.ok()) LogWarning(name_ + ": " + s.message());
      for (Frame& f : frames) {
        if (closed_) return;
        if (on_frame) on_frame(std::move(f));
      }
      continue;
    }
    if (n == 0) {
      Close(Status::Error(name_ + ": closed by the other side"));
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;
    Close(Status::Errno(name_ + ": read", errno));
    return;
  }
}

}  // namespace vmcat

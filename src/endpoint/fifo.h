// Named pipes (PIPE:<path>), opened as socat opens them but without blocking
// the event loop.
//
// socat creates a missing FIFO (and removes it again when it ends, unless
// unlink-close=0), then open(2)s it blocking: a writer waits for a reader, a
// reader for a writer, and both directions use one O_RDWR descriptor. Here:
//  - read only: O_RDONLY|O_NONBLOCK at once. Until a writer comes, epoll
//    reports nothing (read(2) would return 0, but the relay only reads after
//    an event); EPOLLHUP once the last writer has gone is the EOF.
//  - write only: O_WRONLY|O_NONBLOCK fails with ENXIO while nobody reads;
//    the opener retries on a short timer, so nothing is written (and nothing
//    reported as delivered) before a reader is there.
//  - both: a reader and then a writer of our own (the writer never waits);
//    what is written comes back, and closing our writer at the end of our
//    input lets the reading side see EOF once the FIFO has drained.
// A path that exists but is not a FIFO is an error (socat would open it as a
// plain file).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "address/address.h"
#include "endpoint/endpoint.h"

namespace vmcat {

class FifoOpener {
 public:
  /// `address` is a PIPE:<path> address and must outlive the opener.
  FifoOpener(const SingleAddress& address, std::string name, Access access);
  /// Removes a FIFO this opener created that no endpoint took over (the open
  /// failed or was cancelled while waiting for a reader).
  ~FifoOpener();
  FifoOpener(const FifoOpener&) = delete;
  FifoOpener& operator=(const FifoOpener&) = delete;

  /// One non-blocking attempt: the endpoint; nullptr while the write side
  /// waits for a reader (try again after RetryDelay()); or an error.
  Result<std::unique_ptr<Endpoint>> TryOpen();
  /// 10 ms doubling up to 100 ms.
  std::chrono::milliseconds RetryDelay();

 private:
  Status Prepare();

  const SingleAddress& address_;
  std::string name_;
  std::string path_;
  Access access_;
  bool prepared_ = false;
  bool owns_path_ = false;  // we made the FIFO: remove it when we are done
  bool waiting_logged_ = false;
  int retries_ = 0;
};

}  // namespace vmcat

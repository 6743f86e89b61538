// Listener: a listening address (TCP-LISTEN, UNIX-LISTEN, ABSTRACT-LISTEN,
// VSOCK-LISTEN, UDP-LISTEN, UDP-RECVFROM) that hands out one Endpoint per
// accepted connection (or, for UDP, per new peer / per datagram).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "address/address.h"
#include "base/fd.h"
#include "endpoint/endpoint.h"
#include "endpoint/sockaddr.h"

namespace vmcat {

class Listener {
 public:
  /// Creates, binds and listens. Errors name the address and the reason
  /// ("bind 0.0.0.0:80: Address already in use").
  static Result<std::unique_ptr<Listener>> Create(const SingleAddress& address, std::string name);
  ~Listener();

  /// The descriptor to watch for EPOLLIN.
  int fd() const { return fd_.get(); }
  /// What it listens on, for messages: "0.0.0.0:4321", "/run/x.sock".
  std::string local_name() const { return local_.ToString(); }

  /// Accepts one connection without blocking. Returns a null endpoint when
  /// nothing is pending. `peer` receives the peer's address for logging.
  Result<std::unique_ptr<Endpoint>> Accept(std::string* peer);

 private:
  Listener(const SingleAddress& address, std::string name) : address_(address), name_(name) {}
  Result<std::unique_ptr<Endpoint>> AcceptDatagram(std::string* peer);
  /// range= does not include `remote`: logs a warning and says so.
  bool Refuses(const SocketAddress& remote) const;

  const SingleAddress& address_;
  std::string name_;
  UniqueFd fd_;
  SocketAddress local_;
  std::string unlink_path_;
  int socktype_ = SOCK_STREAM;
};

}  // namespace vmcat

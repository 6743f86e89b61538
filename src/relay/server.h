// RelayServer: runs `vmcat relay A B` from opened addresses to exit status.
//
// Without a listening address it opens address 1, then address 2, relays
// once and stops. With a listening address it accepts one connection (or,
// with fork, any number at once: each accepted connection opens the other
// address anew and gets its own Relay in this same process; EXEC/SYSTEM
// start one child per connection). max-children bounds concurrent sessions.
#pragma once

#include <list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "address/address.h"
#include "endpoint/listener.h"
#include "endpoint/open.h"
#include "loop/loop.h"
#include "relay/relay.h"

namespace vmcat {

class RelayServer : public IoHandler {
 public:
  RelayServer(Loop* loop, const RelayOptions& options, const AddressSpec& first,
              const AddressSpec& second);
  ~RelayServer() override;

  /// Validates the combination of addresses and starts. Errors are fatal
  /// set-up errors (bad address, bind failure) and name the address.
  Status Start();
  /// Exit status once the loop stops: 0 on success, 1 on error, 128+N on signal N.
  int exit_status() const { return exit_status_; }

  void OnIo(int fd, uint32_t events) override;

  /// Number of sessions being served right now (for tests and max-children).
  size_t sessions() const { return sessions_.size(); }

 private:
  struct Session;

  std::string NameOf(int index) const;
  Access AccessOf(int index) const;
  void OpenDirect();
  void AcceptReady();
  void StartSession(std::unique_ptr<Endpoint> accepted, const std::string& peer);
  bool CanHandOver(int other) const;
  void HandOver(Session* session, const std::vector<std::string>& env);
  void StartRelay(Session* session, std::unique_ptr<Endpoint> first,
                  std::unique_ptr<Endpoint> second);
  void EndSession(Session* session, const Status& status);
  void Finish(int status);
  void OnSignal(int signo);
  void UpdateListening();

  /// fork with STDOUT/STDERR/FD (only written to) as the other address: every
  /// connection writes to that one descriptor. Returns false if `other` is
  /// not such an address; sets it up otherwise.
  Result<bool> ShareOutput(int other);

  Loop* loop_;
  RelayOptions options_;
  const AddressSpec* specs_[2];
  std::optional<AddressSpec> shared_output_spec_;  // ShareOutput: specs_[other] points here
  FlagsGuard shared_output_flags_;                 // ShareOutput: restores O_NONBLOCK at the end
  int listen_index_ = -1;  // which address listens, if any
  bool fork_ = false;
  bool hand_over_ = false;  // fork to EXEC/SYSTEM: the program gets the connection
  bool program_other_ = false;  // the address that does not listen starts a program
  std::unique_ptr<Listener> listener_;
  bool listening_ = false;
  std::list<std::unique_ptr<Session>> sessions_;
  std::unique_ptr<Endpoint> preopened_;  // non-fork: the address opened before accepting
  std::unique_ptr<OpenOperation> preopen_op_;
  int exit_status_ = 0;
  std::set<int> forwarded_signals_;
  Loop::TimerId accept_retry_timer_ = 0;
};

}  // namespace vmcat

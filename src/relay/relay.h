// Relay: two Pumps between two opened endpoints, with socat's half-close
// semantics done right.
//
// When one direction reaches EOF, the other endpoint's write side is shut
// down and the other direction keeps flowing until it ends too: no fixed
// cut-off loses a slow answer. -t bounds that wait; -T ends an idle relay.
// A datagram socket cannot send an EOF, so when the remaining direction reads
// from one, the wait is socat's default 0.5 s unless -t says otherwise.
// The escape byte ends the session without waiting: the other direction
// delivers only what is readable at that moment. When the remaining direction
// reads from the user's terminal (STDIO on a tty), there is nobody to wait
// for and the session ends as well. Nor is there once the remaining
// direction's stream socket is gone for good (the peer closed both directions
// or reset the connection after its EOF): an EXEC program behind the relay
// would otherwise be kept forever by a client that is no more.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "address/address.h"
#include "endpoint/endpoint.h"
#include "loop/loop.h"
#include "relay/pump.h"

namespace vmcat {

struct RelayOptions {
  enum class Direction { kBoth, kForward, kReverse };  // -u: 1 to 2 only; -U: 2 to 1 only
  Direction direction = Direction::kBoth;
  std::optional<double> half_close_timeout;  // -t
  std::optional<double> idle_timeout;        // -T
  PumpConfig pump;
};

class Relay : public IoHandler, public PumpOwner {
 public:
  /// Called once when the relay ends, from a loop callback (the relay may be
  /// destroyed inside it). OK unless a read or write failed.
  using Done = std::function<void(Status)>;

  Relay(Loop* loop, const RelayOptions& options, std::unique_ptr<Endpoint> first,
        const AddressSpec& first_spec, std::unique_ptr<Endpoint> second,
        const AddressSpec& second_spec, Done done);
  ~Relay() override;
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  /// Registers the descriptors and starts moving data.
  Status Start();
  /// Ends the relay now (e.g. on SIGTERM) with the given status.
  void Stop(Status status);

  const Endpoint* first() const { return endpoints_[0].get(); }
  const Endpoint* second() const { return endpoints_[1].get(); }

  // IoHandler
  void OnIo(int fd, uint32_t events) override;
  // PumpOwner
  void OnPumpFinished(Pump* pump) override;
  void OnPumpFailed(Pump* pump, Status status) override;
  void OnPumpYield(Pump* pump) override;
  void OnPumpActivity() override;
  void OnPumpPollLater(Pump* pump) override;
  void OnPumpCloseLater(Pump* pump, std::chrono::milliseconds delay) override;

 private:
  FdState* StateFor(int fd);
  void WatchChildren(int index);
  void End(Status status);
  void ArmIdleTimer();
  int IndexOf(const Pump* pump) const { return pump == pumps_[0].get() ? 0 : 1; }
  /// Ends the relay when a pump can only write to a peer that is gone.
  void EndIfSinkGone();
  /// Every direction has ended. If an EXEC/SYSTEM program still runs (with
  /// -u it may still be working on its input and writing to our stdout),
  /// waits for it and returns true: the relay ends when the last one exits,
  /// or after -t (when both directions were relayed, 0.5 s by default: the
  /// program closed its output, only its exit status is left to learn).
  bool AwaitPrograms();
  bool ProgramRunning() const;
  /// (Re)arms the timer that ends the relay after the data ended; logs `why`.
  void ArmHalfCloseTimer(double seconds, const char* why);
  /// An error naming the program that exited unsuccessfully, if one did.
  Status ProgramFailure() const;

  Loop* loop_;
  RelayOptions options_;
  std::unique_ptr<Endpoint> endpoints_[2];
  const AddressSpec* specs_[2];
  Done done_;
  std::vector<std::unique_ptr<FdState>> fds_;
  std::vector<int> registered_;
  std::unique_ptr<Pump> pumps_[2];  // [0]: 1 -> 2, [1]: 2 -> 1
  bool ended_ = false;
  bool awaiting_programs_ = false;
  Loop::TimerId half_close_timer_ = 0;
  Loop::TimerId idle_timer_ = 0;
  Loop::TimerId drain_timer_ = 0;
  Loop::TimerId close_timers_[2] = {0, 0};  // per pump: RetryClose
  Clock::time_point last_activity_;
  std::shared_ptr<Relay*> alive_;  // callbacks check it before touching the relay
};

}  // namespace vmcat

// QmpClient: an asynchronous QMP client on the event loop.
//
// It waits for the greeting, negotiates qmp_capabilities, then runs commands
// (any number in flight, matched by id) and passes events on. The supervisor
// is the only owner of a VM's QMP connection; everyone else asks it.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "base/fd.h"
#include "loop/loop.h"
#include "qmp/qmp_codec.h"

namespace vmcat {

class QmpClient : public IoHandler {
 public:
  /// A command's outcome: the reply (kReturn or kError), or a transport
  /// failure (connection lost before the reply).
  using Reply = std::function<void(Result<QmpMessage>)>;
  using EventHandler = std::function<void(const QmpMessage&)>;
  using ClosedHandler = std::function<void(Status)>;

  QmpClient(Loop* loop, UniqueFd socket);
  ~QmpClient() override;

  /// `ready` runs once capabilities are negotiated (or with the error that
  /// prevented it). Events and connection loss are reported afterwards.
  Status Start(std::function<void(Status)> ready, EventHandler on_event, ClosedHandler on_closed);

  /// Sends a command; `reply` runs exactly once (unless the client is
  /// destroyed first). Commands are sent in order.
  void Execute(std::string_view command, const Json& arguments, Reply reply);

  /// Runs an HMP command through human-monitor-command; `reply` gets its text.
  void Hmp(std::string_view command_line, std::function<void(Result<std::string>)> reply);

  const Json& greeting() const { return greeting_; }
  bool ready() const { return ready_; }

  void OnIo(int fd, uint32_t events) override;

 private:
  void Dispatch(QmpMessage m);
  void Fail(Status status);
  void FlushOutput();

  Loop* loop_;
  UniqueFd socket_;
  QmpDecoder decoder_;
  std::string output_;
  bool want_write_ = false;
  bool ready_ = false;
  bool closed_ = false;
  Json greeting_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Reply> pending_;
  std::function<void(Status)> on_ready_;
  EventHandler on_event_;
  ClosedHandler on_closed_;
};

}  // namespace vmcat

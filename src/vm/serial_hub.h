// SerialHub: the supervisor's side of the VM's serial console.
//
// It always reads QEMU's serial output, whether or not anyone watches:
// everything goes to the rotating serial.log and to a ring of recent output,
// then to every attached viewer. One viewer at a time holds the keyboard;
// the others watch read-only until the holder leaves or someone forces the
// keyboard away. A viewer that cannot keep up is detached; QEMU is never
// blocked by a viewer.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>

#include "base/fd.h"
#include "loop/loop.h"
#include "vm/conn.h"
#include "vm/serial_log.h"

namespace vmcat {

class SerialHub : public IoHandler {
 public:
  SerialHub(Loop* loop, UniqueFd qemu_serial, RotatingLog log);
  ~SerialHub() override;

  Status Start();

  struct AttachOptions {
    bool interactive = true;  // wants the keyboard
    bool force = false;       // takes the keyboard from its holder
    bool history = false;     // replay recent output first
    /// Called with whether the keyboard was granted; returns bytes to send
    /// before anything else (the control protocol's reply line).
    std::function<std::string(bool keyboard)> preamble;
  };
  /// Takes over a connection as a viewer. `pending_input` are bytes that
  /// arrived together with the request.
  void Attach(std::unique_ptr<Conn> conn, const AttachOptions& options,
              std::string_view pending_input);

  /// Ends every viewer's stream (the VM is gone).
  void DetachAll();
  /// Reads whatever QEMU still had buffered (called when QEMU exits).
  void Drain();
  size_t viewers() const { return viewers_.size(); }
  uint64_t total_output() const { return log_.total(); }

  void OnIo(int fd, uint32_t events) override;

 private:
  struct Viewer {
    std::unique_ptr<Conn> conn;
    bool interactive;
    bool decided = false;      // keyboard decision made, preamble sent
    std::string early_input;   // typed before the decision
    std::string early_output;  // printed by the guest before the decision
  };
  void Decide(Viewer* v, const AttachOptions& options);
  bool Contains(const Viewer* v) const;
  void Input(Viewer* v, std::string_view bytes);
  void Output(std::string_view bytes);
  void FlushInput();
  void Remove(Viewer* v);
  void GiveKeyboard(Viewer* v, bool announce);

  Loop* loop_;
  UniqueFd serial_;
  RotatingLog log_;
  ByteRing ring_;
  std::list<std::unique_ptr<Viewer>> viewers_;
  Viewer* keyboard_ = nullptr;
  std::string to_qemu_;
  bool want_out_ = false;
  bool eof_ = false;
  bool log_error_reported_ = false;
};

}  // namespace vmcat

// Removing terminal queries from replayed output.
//
// Some programs ask the terminal a question by printing it: a shell's line
// editor prints ESC [ 6 n ("where is the cursor?") and the terminal answers
// on its input as if typed (ESC [ 24 ; 1 R). Replaying a guest's old serial
// output on a user's terminal (`vmcat logs`, the history `vmcat console`
// shows first) would make the terminal answer questions nobody is waiting for:
// the answer lands in the user's shell, or is typed into the guest. This
// filter drops those questions and passes every other byte unchanged.
//
// Dropped: device status reports (CSI 5 n, CSI 6 n, CSI ? 6 n), device
// attributes (CSI c, CSI 0 c, CSI > c, CSI > 0 c, CSI = c) and window reports
// (CSI 11/13/14/16/18/19/20/21 t). A sequence split across chunks is held back
// until the next chunk (at most a few bytes) and released by Finish().
#pragma once

#include <string>
#include <string_view>

namespace vmcat {

class TerminalQueryFilter {
 public:
  /// Returns `chunk` without terminal queries (and with what was held back
  /// from the previous chunk in front).
  std::string Filter(std::string_view chunk);
  /// Whatever is still held back (an unfinished sequence), unchanged.
  std::string Finish();

 private:
  std::string held_;  // an unfinished ESC [ ... sequence
};

}  // namespace vmcat

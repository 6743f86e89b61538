// Command-line flags of `vmcat relay`, in socat's style:
//   vmcat relay [-u|-U] [-t S] [-T S] [-b N] [-d...] [-v] [-x] [-h] [-V] ADDR1 ADDR2
// Pure parsing; "-" and "-,opts" are addresses, not flags.
#pragma once

#include <chrono>

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "relay/relay.h"

namespace vmcat {

struct RelayArgs {
  RelayOptions options;
  int debug = 0;  // number of -d
  // --poll-us: how long the loop polls after I/O before it sleeps.
  std::chrono::microseconds poll_before_sleep{20};
  bool help = false;
  bool version = false;
  std::vector<std::string> addresses;
};

Result<RelayArgs> ParseRelayArgs(const std::vector<std::string>& args);

extern const char kRelayUsage[];

}  // namespace vmcat

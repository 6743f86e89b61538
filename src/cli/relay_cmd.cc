// `vmcat relay ADDR1 ADDR2`: the socat-compatible relay.
#include <cstdio>
#include <string>
#include <vector>

#include "address/address.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/relay_args.h"
#include "loop/loop.h"
#include "relay/server.h"

namespace vmcat {

namespace {

int RelayMain(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = ParseRelayArgs(args);
  if (!parsed.ok()) {
    LogError(parsed.status().message());
    return 1;
  }
  if (parsed->help) {
    std::fputs(kRelayUsage, stdout);
    return 0;
  }
  if (parsed->version) {
    std::printf("vmcat %s\n", VMCAT_VERSION);
    return 0;
  }
  SetLogVerbosity(parsed->debug);
  AddressSpec specs[2];
  for (int i = 0; i < 2; ++i) {
    auto spec = ParseAddress(parsed->addresses[i]);
    if (!spec.ok()) {
      LogError("address " + std::to_string(i + 1) + " " + Quote(parsed->addresses[i]) + ": " +
               spec.status().message());
      return 1;
    }
    specs[i] = std::move(spec).value();
  }
  IgnoreSigpipe();
  Loop loop;
  loop.set_poll_before_sleep(parsed->poll_before_sleep);
  RelayServer server(&loop, parsed->options, specs[0], specs[1]);
  Status started = server.Start();
  if (!started.ok()) {
    LogError(started.message());
    return 1;
  }
  Status ran = loop.Run();
  if (!ran.ok()) {
    LogError(ran.message());
    return 1;
  }
  return server.exit_status();
}

}  // namespace

extern const Command kRelayCommand = {
    "relay", "relay data between two addresses (socat-compatible)", RelayMain};

}  // namespace vmcat

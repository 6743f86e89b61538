#include "cli/relay_args.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(RelayArgsTest, SeedCommandLines) {
  auto r = ParseRelayArgs({"-,icanon=0,echo=0,isig=0,escape=0x0f", "UNIX-CONNECT:/x.sock"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->addresses[0], "-,icanon=0,echo=0,isig=0,escape=0x0f");
  EXPECT_EQ(r->addresses[1], "UNIX-CONNECT:/x.sock");

  auto d = ParseRelayArgs({"-", "VSOCK-CONNECT:42:1234"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->addresses[0], "-");
}

TEST(RelayArgsTest, PollBeforeSleep) {
  auto d = ParseRelayArgs({"A", "B"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->poll_before_sleep.count(), 20);
  auto off = ParseRelayArgs({"--poll-us", "0", "A", "B"});
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_EQ(off->poll_before_sleep.count(), 0);
  auto attached = ParseRelayArgs({"--poll-us=150", "A", "B"});
  ASSERT_TRUE(attached.ok()) << attached.status().message();
  EXPECT_EQ(attached->poll_before_sleep.count(), 150);
  for (auto bad : {std::vector<std::string>{"--poll-us", "x", "A", "B"},
                   std::vector<std::string>{"--poll-us=-1", "A", "B"},
                   std::vector<std::string>{"--poll-us=2000000", "A", "B"},
                   std::vector<std::string>{"--poll-us"}}) {
    auto r = ParseRelayArgs(bad);
    ASSERT_FALSE(r.ok()) << bad[0];
    EXPECT_NE(r.status().message().find("--poll-us"), std::string::npos);
  }
}

TEST(RelayArgsTest, Flags) {
  auto r = ParseRelayArgs({"-dd", "-u", "-t", "2.5", "-T10", "-b", "8192", "-vx", "A", "B"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->debug, 2);
  EXPECT_EQ(r->options.direction, RelayOptions::Direction::kForward);
  EXPECT_DOUBLE_EQ(*r->options.half_close_timeout, 2.5);
  EXPECT_DOUBLE_EQ(*r->options.idle_timeout, 10);
  EXPECT_EQ(r->options.pump.block_size, 8192u);
  EXPECT_TRUE(r->options.pump.dump_text);
  EXPECT_TRUE(r->options.pump.dump_hex);
}

TEST(RelayArgsTest, AddressesThatStartWithADash) {
  // `-`, `-,raw`, `-!!-` and `-:...` are addresses, not flags (as in socat).
  for (const char* first : {"-", "-,raw,echo=0", "-!!-", "-!!STDOUT"}) {
    auto r = ParseRelayArgs({first, "SYSTEM:cat"});
    ASSERT_TRUE(r.ok()) << first << ": " << r.status().message();
    EXPECT_EQ(r->addresses, (std::vector<std::string>{first, "SYSTEM:cat"}));
  }
}

TEST(RelayArgsTest, Errors) {
  EXPECT_EQ(ParseRelayArgs({"-q", "A", "B"}).status().message(),
            "unknown option \"-q\" (see vmcat relay -h)");
  EXPECT_EQ(ParseRelayArgs({"A"}).status().message(),
            "expected 2 addresses, got 1 (see vmcat relay -h)");
  EXPECT_EQ(ParseRelayArgs({"-t", "soon", "A", "B"}).status().message(),
            "option -t: bad value \"soon\": expected seconds such as 5 or 0.5");
  EXPECT_EQ(ParseRelayArgs({"-t"}).status().message(), "option -t needs a number of seconds");
  EXPECT_EQ(ParseRelayArgs({"-b", "0", "A", "B"}).status().message(),
            "option -b: bad value \"0\": expected a block size from 1 to 67108864");
}

TEST(RelayArgsTest, HelpNeedsNoAddresses) {
  auto r = ParseRelayArgs({"-h"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
}

}  // namespace
}  // namespace vmcat

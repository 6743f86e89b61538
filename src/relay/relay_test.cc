#include "relay/relay.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace vmcat {
namespace {

// A relay between a stream socket (address 1) and a datagram socket
// (address 2), each the near end of a socketpair whose far end the test holds.
class DatagramRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int s[2], d[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, d), 0);
    stream_far_.reset(s[1]);
    datagram_far_.reset(d[1]);
    stream_near_ = std::make_unique<Endpoint>("address 1", UniqueFd(s[0]), FdKind::kStreamSocket);
    datagram_near_ =
        std::make_unique<Endpoint>("address 2", UniqueFd(d[0]), FdKind::kDatagramSocket);
    stream_spec_ = *ParseAddress("UNIX-CONNECT:/stream");
    datagram_spec_ = *ParseAddress("UDP:127.0.0.1:9");
  }

  // Runs a relay after the stream side sent "hi" and its EOF; returns how
  // long the relay took to end, or a negative duration if it did not end
  // within `limit`.
  std::chrono::duration<double> RunAfterStreamEof(const RelayOptions& options, double limit) {
    EXPECT_EQ(write(stream_far_.get(), "hi", 2), 2);
    shutdown(stream_far_.get(), SHUT_WR);
    Loop loop;
    bool ended = false;
    Status result;
    Relay relay(&loop, options, std::move(stream_near_), stream_spec_, std::move(datagram_near_),
                datagram_spec_, [&](Status s) {
                  ended = true;
                  result = s;
                  loop.Stop();
                });
    auto start = Clock::now();
    loop.AddTimer(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit)),
                  [&] { loop.Stop(); });
    EXPECT_TRUE(relay.Start().ok());
    EXPECT_TRUE(loop.Run().ok());
    EXPECT_TRUE(result.ok()) << result.message();
    char buf[16];
    EXPECT_EQ(read(datagram_far_.get(), buf, sizeof buf), 2);
    if (!ended) return std::chrono::duration<double>(-1);
    return Clock::now() - start;
  }

  UniqueFd stream_far_, datagram_far_;
  std::unique_ptr<Endpoint> stream_near_, datagram_near_;
  AddressSpec stream_spec_, datagram_spec_;
};

TEST_F(DatagramRelayTest, DatagramPeerWaitsLikeSocatAfterTheOtherSidesEof) {
  // A datagram socket never reads an EOF: without a bound the relay would
  // wait forever for the datagram direction to end.
  auto took = RunAfterStreamEof(RelayOptions{}, 5.0);
  EXPECT_GE(took.count(), 0.45);
  EXPECT_LT(took.count(), 2.0);
}

TEST_F(DatagramRelayTest, DashTStillDecides) {
  RelayOptions options;
  options.half_close_timeout = 0.05;
  auto took = RunAfterStreamEof(options, 5.0);
  EXPECT_GE(took.count(), 0.0);
  EXPECT_LT(took.count(), 0.4);
}

}  // namespace
}  // namespace vmcat

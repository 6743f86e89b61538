#include "address/ip_range.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

namespace vmcat {
namespace {

sockaddr_storage Peer(const char* text) {
  sockaddr_storage ss{};
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    return ss;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  EXPECT_EQ(inet_pton(AF_INET6, text, &in6->sin6_addr), 1) << text;
  in6->sin6_family = AF_INET6;
  return ss;
}

bool In(const char* range, const char* peer) {
  auto r = ParseIpRange(range);
  EXPECT_TRUE(r.ok()) << range << ": " << r.status().message();
  sockaddr_storage ss = Peer(peer);
  return r.ok() && r->Contains(reinterpret_cast<sockaddr*>(&ss));
}

TEST(IpRange, PrefixAndMaskForms) {
  EXPECT_TRUE(In("10.0.0.0/8", "10.200.3.4"));
  EXPECT_FALSE(In("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(In("192.168.1.0:255.255.255.0", "192.168.1.77"));
  EXPECT_FALSE(In("192.168.1.0:255.255.255.0", "192.168.2.77"));
  EXPECT_TRUE(In("127.0.0.1", "127.0.0.1"));  // one address
  EXPECT_FALSE(In("127.0.0.1", "127.0.0.2"));
  EXPECT_TRUE(In("0.0.0.0/0", "8.8.8.8"));
  EXPECT_TRUE(In("10.1.2.3/8", "10.9.9.9"));  // host bits are ignored
}

TEST(IpRange, Ipv6AndMappedPeers) {
  EXPECT_TRUE(In("[fd00::]/8", "fd12::1"));
  EXPECT_TRUE(In("fd00::/8", "fdff::1"));
  EXPECT_FALSE(In("[fd00::]/8", "fe80::1"));
  EXPECT_TRUE(In("[::1]/128", "::1"));
  // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
  EXPECT_TRUE(In("127.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_FALSE(In("10.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_FALSE(In("[::1]/128", "127.0.0.1"));
}

TEST(IpRange, MalformedRangesSayWhy) {
  EXPECT_EQ(ParseIpRange("10.0.0.0/33").status().message(),
            "range=10.0.0.0/33: the prefix length must be 0 to 32 (expected ADDRESS/BITS, "
            "ADDRESS:MASK or ADDRESS)");
  EXPECT_FALSE(ParseIpRange("example.com/8").ok());
  EXPECT_FALSE(ParseIpRange("10.0.0.0:ffff::").ok());
  EXPECT_FALSE(ParseIpRange("10.0.0.0/").ok());
  EXPECT_FALSE(ParseIpRange("").ok());
}

}  // namespace
}  // namespace vmcat

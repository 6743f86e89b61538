#include "endpoint/sockaddr.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(ResolveInet, NumericIpv4) {
  auto r = ResolveInet("127.0.0.1", "8080", IpFamily::kAny, SOCK_STREAM, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].family(), AF_INET);
  EXPECT_EQ((*r)[0].length, sizeof(sockaddr_in));
  EXPECT_EQ((*r)[0].ToString(), "127.0.0.1:8080");
}

TEST(ResolveInet, NumericIpv6WithAndWithoutBrackets) {
  for (const char* host : {"::1", "[::1]"}) {
    auto r = ResolveInet(host, "22", IpFamily::kAny, SOCK_STREAM, false);
    ASSERT_TRUE(r.ok()) << host << ": " << r.status().message();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].family(), AF_INET6);
    EXPECT_EQ((*r)[0].ToString(), "[::1]:22");
  }
}

TEST(ResolveInet, FamilyRestrictionStillApplies) {
  auto v6_only = ResolveInet("127.0.0.1", "80", IpFamily::kIpv6, SOCK_STREAM, false);
  EXPECT_FALSE(v6_only.ok());
  EXPECT_NE(v6_only.status().message().find("\"127.0.0.1\""), std::string::npos)
      << v6_only.status().message();
  auto v4_only = ResolveInet("::1", "80", IpFamily::kIpv4, SOCK_STREAM, false);
  EXPECT_FALSE(v4_only.ok());
}

TEST(ResolveInet, NamesAndServiceNamesGoToTheResolver) {
  auto r = ResolveInet("localhost", "ssh", IpFamily::kIpv4, SOCK_STREAM, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].ToString(), "127.0.0.1:22");
  // The short IPv4 form inet_aton accepts is the resolver's business too.
  auto short_form = ResolveInet("127.1", "9", IpFamily::kIpv4, SOCK_STREAM, false);
  ASSERT_TRUE(short_form.ok()) << short_form.status().message();
  EXPECT_EQ((*short_form)[0].ToString(), "127.0.0.1:9");
}

TEST(ResolveInet, BadPortIsAnError) {
  EXPECT_FALSE(ResolveInet("127.0.0.1", "70000", IpFamily::kAny, SOCK_STREAM, false).ok());
  EXPECT_FALSE(ResolveInet("127.0.0.1", "", IpFamily::kAny, SOCK_STREAM, false).ok());
}

}  // namespace
}  // namespace vmcat

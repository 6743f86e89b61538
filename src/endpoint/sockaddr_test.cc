#include "endpoint/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

TEST(SocatPeerEnvironment, UnnamedUnixPeers) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  EXPECT_EQ(SocatPeerEnvironment(sv[0]),
            (std::vector<std::string>{"SOCAT_PEERADDR=<anon>", "SOCAT_SOCKADDR=<anon>"}));
  close(sv[0]);
  close(sv[1]);
}

TEST(SocatPeerEnvironment, Ipv6ListenerShowsAMappedIpv4PeerAsIpv4) {
  int listener = socket(AF_INET6, SOCK_STREAM, 0);
  int zero = 0;
  setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof any;
  getsockname(listener, reinterpret_cast<sockaddr*>(&any), &len);
  int client = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = any.sin6_port;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  sockaddr_in mine{};
  len = sizeof mine;
  getsockname(client, reinterpret_cast<sockaddr*>(&mine), &len);
  EXPECT_EQ(SocatPeerEnvironment(accepted),
            (std::vector<std::string>{
                "SOCAT_PEERADDR=127.0.0.1", "SOCAT_PEERPORT=" + std::to_string(ntohs(mine.sin_port)),
                "SOCAT_SOCKADDR=127.0.0.1", "SOCAT_SOCKPORT=" + std::to_string(ntohs(to.sin_port))}));
  close(accepted);
  close(client);
  close(listener);
}

}  // namespace
}  // namespace vmcat

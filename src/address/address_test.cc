#include "address/address.h"

#include <termios.h>

#include <gtest/gtest.h>

namespace vmcat {
namespace {

AddressSpec MustParse(std::string_view text) {
  auto r = ParseAddress(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  if (!r.ok()) return AddressSpec{};
  return std::move(r).value();
}

std::string ErrorOf(std::string_view text) {
  auto r = ParseAddress(text);
  EXPECT_FALSE(r.ok()) << text << " unexpectedly parsed";
  return r.ok() ? "" : r.status().message();
}

// Seed 000: the interactive serial/monitor console.
TEST(AddressTest, SeedStdioWithTerminalOptions) {
  AddressSpec s = MustParse("-,icanon=0,echo=0,isig=0,escape=0x0f");
  EXPECT_EQ(s.first.type(), AddressType::kStdio);
  EXPECT_TRUE(s.first.params.empty());
  EXPECT_EQ(s.first.options.termios.icanon, false);
  EXPECT_EQ(s.first.options.termios.echo, false);
  EXPECT_EQ(s.first.options.termios.isig, false);
  ASSERT_TRUE(s.first.options.escape.has_value());
  EXPECT_EQ(*s.first.options.escape, 0x0f);
}

TEST(AddressTest, SeedUnixConnect) {
  AddressSpec s = MustParse("UNIX-CONNECT:/chemin/fichier.sock");
  EXPECT_EQ(s.first.type(), AddressType::kUnixConnect);
  ASSERT_EQ(s.first.params.size(), 1u);
  EXPECT_EQ(s.first.params[0], "/chemin/fichier.sock");
}

// Seed 001: vsock.
TEST(AddressTest, SeedVsock) {
  AddressSpec l = MustParse("VSOCK-LISTEN:1234,reuseaddr,fork");
  EXPECT_EQ(l.first.type(), AddressType::kVsockListen);
  EXPECT_EQ(l.first.params, std::vector<std::string>{"1234"});
  EXPECT_TRUE(l.first.options.reuseaddr);
  EXPECT_TRUE(l.first.options.fork);
  EXPECT_TRUE(l.first.IsListener());

  AddressSpec c = MustParse("VSOCK-CONNECT:42:1234");
  EXPECT_EQ(c.first.type(), AddressType::kVsockConnect);
  EXPECT_EQ(c.first.params, (std::vector<std::string>{"42", "1234"}));
}

TEST(AddressTest, SeedTcp) {
  AddressSpec l = MustParse("TCP4-LISTEN:4321,reuseaddr,fork");
  EXPECT_EQ(l.first.type(), AddressType::kTcpListen);
  EXPECT_EQ(l.first.info->family, IpFamily::kIpv4);
  EXPECT_STREQ(l.first.info->keyword, "TCP4-LISTEN");
  EXPECT_TRUE(l.first.options.fork);

  AddressSpec c = MustParse("TCP:localhost:22");
  EXPECT_EQ(c.first.type(), AddressType::kTcpConnect);
  EXPECT_EQ(c.first.params, (std::vector<std::string>{"localhost", "22"}));
}

// Seed 002: the guest's shell server.
TEST(AddressTest, SeedExecWithPty) {
  AddressSpec s = MustParse("EXEC:bash,pty,stderr,setsid,sigint,sane,ctty,echo=0");
  const SingleAddress& a = s.first;
  EXPECT_EQ(a.type(), AddressType::kExec);
  EXPECT_EQ(a.params, std::vector<std::string>{"bash"});
  EXPECT_TRUE(a.options.pty);
  EXPECT_TRUE(a.options.stderr_to_peer);
  EXPECT_TRUE(a.options.setsid);
  EXPECT_TRUE(a.options.sigint);
  EXPECT_TRUE(a.options.ctty);
  EXPECT_TRUE(a.options.termios.sane);
  EXPECT_EQ(a.options.termios.echo, false);
}

TEST(AddressTest, KeywordsAreCaseInsensitive) {
  AddressSpec s = MustParse("tcp-l:80,FORK,ReuseAddr");
  EXPECT_EQ(s.first.type(), AddressType::kTcpListen);
  EXPECT_STREQ(s.first.info->keyword, "TCP-LISTEN");
  EXPECT_TRUE(s.first.options.fork);
  EXPECT_TRUE(s.first.options.reuseaddr);
}

TEST(AddressTest, LeadingNumberIsFd) {
  AddressSpec s = MustParse("3");
  EXPECT_EQ(s.first.type(), AddressType::kFd);
  EXPECT_EQ(s.first.params, std::vector<std::string>{"3"});
  EXPECT_EQ(MustParse("FD:12").first.params, std::vector<std::string>{"12"});
}

TEST(AddressTest, SlashMeansFile) {
  AddressSpec s = MustParse("/dev/ttyS0,raw,echo=0");
  EXPECT_EQ(s.first.type(), AddressType::kGopen);
  EXPECT_EQ(s.first.params, std::vector<std::string>{"/dev/ttyS0"});
  EXPECT_TRUE(s.first.options.termios.raw);
  EXPECT_EQ(MustParse("./out.bin").first.params, std::vector<std::string>{"./out.bin"});
}

TEST(AddressTest, DualAddress) {
  AddressSpec s = MustParse("OPEN:/tmp/in!!CREATE:/tmp/out,trunc");
  ASSERT_TRUE(s.IsDual());
  EXPECT_EQ(s.first.type(), AddressType::kOpen);
  EXPECT_EQ(s.write_side->type(), AddressType::kCreate);
  EXPECT_TRUE(s.write_side->options.trunc);
  AddressSpec io = MustParse("STDIN!!STDOUT");
  EXPECT_EQ(io.first.type(), AddressType::kStdin);
  EXPECT_EQ(io.write_side->type(), AddressType::kStdout);
}

TEST(AddressTest, QuotesProtectSeparatorsAndAreDropped) {
  AddressSpec s = MustParse("EXEC:'sh -c \"echo a:b,c\"',pty");
  EXPECT_EQ(s.first.params, std::vector<std::string>{"sh -c \"echo a:b,c\""});
  EXPECT_TRUE(s.first.options.pty);
  AddressSpec d = MustParse("SYSTEM:\"echo 'x,y'\"");
  EXPECT_EQ(d.first.params, std::vector<std::string>{"echo 'x,y'"});
}

TEST(AddressTest, BracketsNestAndAreKept) {
  AddressSpec s = MustParse("TCP:[::1]:80");
  EXPECT_EQ(s.first.params, (std::vector<std::string>{"[::1]", "80"}));
  AddressSpec e = MustParse("SYSTEM:(a:b,c!!d)");
  EXPECT_EQ(e.first.params, std::vector<std::string>{"(a:b,c!!d)"});
  EXPECT_FALSE(e.IsDual());
}

TEST(AddressTest, BackslashEscapes) {
  AddressSpec s = MustParse("UNIX-CONNECT:/tmp/a\\:b\\,c");
  EXPECT_EQ(s.first.params, std::vector<std::string>{"/tmp/a:b,c"});
  AddressSpec n = MustParse("SYSTEM:printf x\\ny");
  EXPECT_EQ(n.first.params, std::vector<std::string>{"printf x\ny"});
}

TEST(AddressTest, OptionValues) {
  AddressSpec s = MustParse(
      "UNIX-LISTEN:/tmp/s,mode=600,unlink-early,backlog=5,max-children=10,retry=3,interval=0.5");
  const AddressOptions& o = s.first.options;
  EXPECT_EQ(o.mode, 0600u);
  EXPECT_TRUE(o.unlink_early);
  EXPECT_EQ(o.backlog, 5);
  EXPECT_EQ(o.max_children, 10u);
  EXPECT_EQ(o.retry, 3u);
  EXPECT_DOUBLE_EQ(o.interval, 0.5);
  AddressSpec t = MustParse("TCP:h:1,connect-timeout=2.5,nodelay,bind=127.0.0.1:5555,keepalive");
  EXPECT_DOUBLE_EQ(*t.first.options.connect_timeout, 2.5);
  EXPECT_TRUE(t.first.options.nodelay);
  EXPECT_EQ(*t.first.options.bind, "127.0.0.1:5555");
  EXPECT_EQ(t.first.options.keepalive, true);
  EXPECT_TRUE(MustParse("-,crnl").first.options.crnl);
  EXPECT_TRUE(MustParse("-,crlf").first.options.crnl);  // socat's other spelling
}

TEST(AddressTest, HybridVsockByPath) {
  AddressSpec s = MustParse("VSOCK-CONNECT:/run/fc/v.sock:1234");
  EXPECT_EQ(s.first.type(), AddressType::kHybridVsockConnect);
  EXPECT_EQ(s.first.params, (std::vector<std::string>{"/run/fc/v.sock", "1234"}));
  EXPECT_EQ(MustParse("HYBRID-VSOCK:./v.sock:52").first.type(), AddressType::kHybridVsockConnect);
}

TEST(AddressTest, Errors) {
  EXPECT_EQ(ErrorOf("FOO:bar"), "unknown address type \"FOO\"");
  EXPECT_EQ(ErrorOf("TCP-LISTEN:80,forkk"), "unknown option \"forkk\"");
  EXPECT_EQ(ErrorOf("TCP-LISTEN"), "TCP-LISTEN takes 1 parameter (<port>), got 0");
  EXPECT_EQ(ErrorOf("TCP:a:b:c"), "TCP takes 2 parameters (<host>:<port>), got 3");
  EXPECT_EQ(ErrorOf("TCP:a:1,pty"), "option \"pty\" is not valid for TCP");
  EXPECT_EQ(ErrorOf("UNIX-LISTEN:/x,max-children=abc"),
            "option \"max-children\": bad value \"abc\": expected a number from 0 to 1000000");
  EXPECT_EQ(ErrorOf("-,escape=0x1ff"),
            "option \"escape\": bad value \"0x1ff\": expected a number from 0 to 255");
  EXPECT_EQ(ErrorOf("UNIX-LISTEN:/x,mode=9"),
            "option \"mode\": bad value \"9\": expected an octal mode such as 600");
  EXPECT_EQ(ErrorOf("VSOCK-CONNECT:x:1"),
            "VSOCK-CONNECT: bad CID \"x\": expected a number, or a UNIX socket path containing "
            "'/' for Firecracker/Cloud Hypervisor hybrid vsock");
  EXPECT_EQ(ErrorOf("EXEC:'unterminated"), "unterminated ' quote starting at character 6");
  EXPECT_EQ(ErrorOf("SYSTEM:(a"), "unterminated ( starting at character 8");
  EXPECT_EQ(ErrorOf(""), "empty address");
  EXPECT_EQ(ErrorOf("TCP:a:1,fork"), "option \"fork\" is not valid for TCP");
  EXPECT_EQ(ErrorOf("UNIX-CONNECT:"), "UNIX-CONNECT: empty <path>");
  EXPECT_EQ(ErrorOf("TCP-L:1,fork:2"),
            "unexpected ':' after the options of TCP-LISTEN (options come after all parameters)");
  EXPECT_EQ(ErrorOf("-,connect-timeout"), "option \"connect-timeout\" is not valid for STDIO");
  EXPECT_EQ(ErrorOf("TCP:a:1,connect-timeout"),
            "option \"connect-timeout\" needs a value (seconds)");
}

// A serial line as socat users open one.
TEST(AddressTest, SerialLineOptions) {
  AddressSpec s = MustParse("/dev/ttyS0,B115200,cs8,parenb=0,cstopb=0,clocal,raw,echo=0");
  const TermiosSettings& t = s.first.options.termios;
  EXPECT_EQ(t.ispeed, static_cast<unsigned>(B115200));
  EXPECT_EQ(t.ospeed, static_cast<unsigned>(B115200));
  EXPECT_EQ(t.csize, static_cast<unsigned>(CS8));
  EXPECT_EQ(t.parenb, false);
  EXPECT_EQ(t.cstopb, false);
  EXPECT_EQ(t.clocal, true);
  const TermiosSettings& u =
      MustParse("PTY,ispeed=9600,ospeed=4000000,csize=2,hup").first.options.termios;
  EXPECT_EQ(u.ispeed, static_cast<unsigned>(B9600));
  EXPECT_EQ(u.ospeed, static_cast<unsigned>(B4000000));
  EXPECT_EQ(u.csize, static_cast<unsigned>(CS7));
  EXPECT_EQ(u.hupcl, true);
  EXPECT_TRUE(u.Any());
  EXPECT_EQ(MustParse("-,cs5").first.options.termios.csize, static_cast<unsigned>(CS5));
}

TEST(AddressTest, SerialLineOptionErrors) {
  EXPECT_EQ(ErrorOf("PTY,b12345"),
            "option \"b12345\": \"12345\" is not a line speed termios knows (such as 9600, "
            "38400, 115200)");
  EXPECT_EQ(ErrorOf("PTY,b9600=1"), "option \"b9600\" takes no value (the speed is in its name)");
  EXPECT_EQ(ErrorOf("PTY,ospeed"), "option \"ospeed\" needs a value (a line speed such as 115200)");
  EXPECT_EQ(ErrorOf("PTY,ispeed=fast"),
            "option \"ispeed\": \"fast\" is not a line speed termios knows (such as 9600, "
            "38400, 115200)");
  EXPECT_EQ(ErrorOf("PTY,csize=4"),
            "option \"csize\": bad value \"4\": expected a number from 0 to 3");
  EXPECT_EQ(ErrorOf("TCP:a:1,b9600"), "option \"b9600\" is not valid for TCP");
  EXPECT_EQ(ErrorOf("PTY,ispeed=0x1c200"),
            "option \"ispeed\": \"0x1c200\" is not a line speed termios knows (such as 9600, "
            "38400, 115200)");
  EXPECT_EQ(ErrorOf("PTY,cs7=1"), "option \"cs7\" takes no value (the size is in its name)");
  EXPECT_EQ(ErrorOf("PTY,b"), "unknown option \"b\"");
  EXPECT_EQ(ErrorOf("PTY,bx9600"), "unknown option \"bx9600\"");
}

TEST(AddressTest, BoolOptionsTakeExplicitValues) {
  EXPECT_FALSE(MustParse("TCP-L:1,fork=0").first.options.fork);
  EXPECT_TRUE(MustParse("TCP-L:1,fork=1").first.options.fork);
  EXPECT_EQ(ErrorOf("TCP-L:1,fork=maybe"), "option \"fork\": bad value \"maybe\": expected 0 or 1");
}

}  // namespace
}  // namespace vmcat

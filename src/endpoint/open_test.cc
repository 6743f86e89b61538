#include "endpoint/open.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

namespace vmcat {
namespace {

// Opens `text` with StartOpen and runs the loop until it is open.
std::unique_ptr<Endpoint> OpenNow(Loop* loop, const AddressSpec& spec) {
  std::unique_ptr<Endpoint> endpoint;
  auto op =
      StartOpen(loop, spec, "address 1", Access::kBoth, [&](Result<std::unique_ptr<Endpoint>> r) {
        if (r.ok()) endpoint = std::move(r).value();
        loop->Stop();
      });
  EXPECT_TRUE(loop->Run().ok());
  return endpoint;
}

// In a terminal, stdin and stdout are one open file description shared with
// the user's shell: its flags and settings must come back exactly.
TEST(OpenStdioTest, SharedTerminalComesBackBlockingAndCooked) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  int saved_in = dup(STDIN_FILENO), saved_out = dup(STDOUT_FILENO);
  fflush(stdout);
  dup2(slave, STDIN_FILENO);
  dup2(slave, STDOUT_FILENO);

  // `slave` shares the open file description of fds 0 and 1 and stays open
  // when the endpoint closes them.
  int flags_before = fcntl(slave, F_GETFL);
  termios tty_before;
  tcgetattr(slave, &tty_before);
  bool nonblocking_while_open = false;
  bool opened = false;
  {
    Loop loop;
    AddressSpec spec = *ParseAddress("-,icanon=0,echo=0,isig=0,escape=0x0f");
    std::unique_ptr<Endpoint> e = OpenNow(&loop, spec);
    opened = e != nullptr;
    nonblocking_while_open = fcntl(slave, F_GETFL) & O_NONBLOCK;
  }
  int flags_after = fcntl(slave, F_GETFL);
  termios tty_after;
  tcgetattr(slave, &tty_after);

  dup2(saved_in, STDIN_FILENO);
  dup2(saved_out, STDOUT_FILENO);
  close(saved_in);
  close(saved_out);
  close(slave);
  close(master);

  ASSERT_TRUE(opened);
  EXPECT_TRUE(nonblocking_while_open);
  EXPECT_EQ(flags_after, flags_before);
  EXPECT_EQ(tty_after.c_lflag, tty_before.c_lflag);
  EXPECT_EQ(tty_after.c_cc[VMIN], tty_before.c_cc[VMIN]);
}

}  // namespace
}  // namespace vmcat

namespace vmcat {
namespace {

std::pair<int, int> Fds(const char* address, Access access) {
  return StdioDescriptors(ParseAddress(address)->first, access);
}

TEST(StdioDescriptorsTest, DirectionsFollowTheAddressAndTheAccess) {
  EXPECT_EQ(Fds("-", Access::kBoth), std::make_pair(0, 1));
  EXPECT_EQ(Fds("-", Access::kWrite), std::make_pair(-1, 1));  // -u, address 2
  EXPECT_EQ(Fds("STDIO", Access::kRead), std::make_pair(0, -1));
  EXPECT_EQ(Fds("STDIN", Access::kBoth), std::make_pair(0, -1));
  EXPECT_EQ(Fds("STDOUT", Access::kBoth), std::make_pair(-1, 1));
  EXPECT_EQ(Fds("STDERR", Access::kBoth), std::make_pair(-1, 2));
  EXPECT_EQ(Fds("FD:7", Access::kBoth), std::make_pair(7, 7));
  EXPECT_EQ(Fds("7", Access::kWrite), std::make_pair(-1, 7));
}

}  // namespace
}  // namespace vmcat

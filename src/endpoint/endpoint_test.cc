#include "endpoint/endpoint.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <string>

namespace vmcat {
namespace {

// CloseWrite on a pty master: how an EOF reaches the program on the slave.
class PtyCloseWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    ASSERT_GE(master, 0);
    ASSERT_EQ(grantpt(master), 0);
    ASSERT_EQ(unlockpt(master), 0);
    slave_.reset(open(ptsname(master), O_RDWR | O_NOCTTY | O_NONBLOCK));
    ASSERT_TRUE(slave_.valid());
    endpoint_ = std::make_unique<Endpoint>("exec", UniqueFd(master), FdKind::kTty);
  }

  void SetCanonical(bool on) {
    termios t;
    ASSERT_EQ(tcgetattr(slave_.get(), &t), 0);
    t.c_lflag = on ? (t.c_lflag | ICANON) : (t.c_lflag & ~ICANON);
    t.c_lflag &= ~ECHO;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    ASSERT_EQ(tcsetattr(slave_.get(), TCSANOW, &t), 0);
  }

  void AttachExitedChild() {
    auto child = std::make_unique<ChildProcess>(1);
    child->MarkExited(0);  // never signal anything
    endpoint_->set_child(std::move(child));
  }

  // Writes `data` as the relay does, then the EOF; returns what the slave reads.
  std::string WriteThenEof(const std::string& data) {
    if (!data.empty()) {
      EXPECT_EQ(write(endpoint_->write_fd(), data.data(), data.size()),
                static_cast<ssize_t>(data.size()));
      endpoint_->NoteWritten(data.data(), data.size());
    }
    EXPECT_TRUE(endpoint_->CloseWrite().ok());
    // pty input arrives asynchronously: read until 100 ms pass without any.
    std::string got;
    char buf[64];
    pollfd p{slave_.get(), POLLIN, 0};
    while (poll(&p, 1, 100) == 1) {
      ssize_t n = read(slave_.get(), buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  UniqueFd slave_;
  std::unique_ptr<Endpoint> endpoint_;
};

TEST_F(PtyCloseWriteTest, NonCanonicalExecChildGetsTheEofCharacterAtLineStart) {
  SetCanonical(false);
  AttachExitedChild();
  EXPECT_EQ(WriteThenEof("ls\n"), "ls\n\x04");
}

TEST_F(PtyCloseWriteTest, NonCanonicalPartialLineGetsNothing) {
  SetCanonical(false);
  AttachExitedChild();
  // Ctrl-D inside a line means "delete a character" to line editors.
  EXPECT_EQ(WriteThenEof("ls"), "ls");
}

TEST_F(PtyCloseWriteTest, NonCanonicalWithoutExecChildGetsNothing) {
  SetCanonical(false);
  // A PTY address's other program reads raw data: no byte is made up.
  EXPECT_EQ(WriteThenEof("data\n"), "data\n");
}

TEST_F(PtyCloseWriteTest, CanonicalReadsEndOfFile) {
  SetCanonical(true);
  ASSERT_EQ(write(endpoint_->write_fd(), "line\n", 5), 5);
  endpoint_->NoteWritten("line\n", 5);
  ASSERT_TRUE(endpoint_->CloseWrite().ok());
  char buf[64];
  pollfd p{slave_.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(read(slave_.get(), buf, sizeof buf), 5);
  // The EOF character is no byte: the next read returns 0, end of file
  // (with nothing pending, a non-blocking read would fail with EAGAIN).
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(read(slave_.get(), buf, sizeof buf), 0);
}

}  // namespace
}  // namespace vmcat

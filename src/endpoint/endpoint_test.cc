#include "endpoint/endpoint.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

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

  void TearDown() override {
    endpoint_.reset();  // hangs up on the child
    if (child_pid_ > 0) {
      kill(child_pid_, SIGKILL);
      waitpid(child_pid_, nullptr, 0);
    }
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

  // The program on the pty, as CloseWrite inspects it through /proc: waiting
  // for terminal input (in poll() on the slave; the test reads for it), or
  // busy (sleeping, not reading).
  void AttachChild(bool waiting) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      pollfd p{slave_.get(), 0, 0};  // no events: sleeps until hang-up
      for (;;) {
        if (waiting) {
          poll(&p, 1, -1);
        } else {
          pause();
        }
      }
    }
    child_pid_ = pid;
    endpoint_->set_child(std::make_unique<ChildProcess>(pid));
    // Until the child sleeps, it does not wait for input.
    for (int i = 0; i < 200; ++i) {
      std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
      if (stat.find(") S ") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  void AttachExitedChild() {
    auto child = std::make_unique<ChildProcess>(1);
    child->MarkExited(0);  // never signal anything
    endpoint_->set_child(std::move(child));
  }

  static std::string ReadFile(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY));
    char buf[512];
    ssize_t n = fd.valid() ? read(fd.get(), buf, sizeof buf) : -1;
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  void Write(const std::string& data) {
    ASSERT_EQ(write(endpoint_->write_fd(), data.data(), data.size()),
              static_cast<ssize_t>(data.size()));
    endpoint_->NoteWritten(data.data(), data.size());
  }

  // What the slave has to read; pty input arrives asynchronously, so reads
  // until `quiet_ms` pass without any.
  std::string ReadSlave(int quiet_ms = 100) {
    std::string got;
    char buf[64];
    pollfd p{slave_.get(), POLLIN, 0};
    while (poll(&p, 1, quiet_ms) == 1) {
      ssize_t n = read(slave_.get(), buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  // Calls CloseWrite as the relay does until it is done (or `limit_ms`
  // passed), reading the slave meanwhile when `read_meanwhile`, as a program
  // would. Returns the last state.
  CloseWriteState CloseAndWait(std::string* got, bool read_meanwhile = true, int limit_ms = 2000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
    while (true) {
      Result<CloseWriteState> r = endpoint_->CloseWrite();
      EXPECT_TRUE(r.ok()) << r.status().message();
      if (!r.ok() || *r == CloseWriteState::kClosed) return CloseWriteState::kClosed;
      if (std::chrono::steady_clock::now() > deadline) return CloseWriteState::kLater;
      if (read_meanwhile) got->append(ReadSlave(10));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Writes `data` as the relay does, then the EOF; returns what the slave reads.
  std::string WriteThenEof(const std::string& data) {
    if (!data.empty()) Write(data);
    std::string got;
    EXPECT_EQ(CloseAndWait(&got), CloseWriteState::kClosed);
    got += ReadSlave();
    return got;
  }

  UniqueFd slave_;
  std::unique_ptr<Endpoint> endpoint_;
  pid_t child_pid_ = -1;
};

TEST_F(PtyCloseWriteTest, NonCanonicalExecChildGetsTheEofCharacterAtLineStart) {
  SetCanonical(false);
  AttachChild(/*waiting=*/true);
  EXPECT_EQ(WriteThenEof("ls\n"), "ls\n\x04");
}

TEST_F(PtyCloseWriteTest, NonCanonicalPartialLineGetsNothing) {
  SetCanonical(false);
  AttachChild(/*waiting=*/true);
  // Ctrl-D inside a line means "delete a character" to line editors.
  EXPECT_EQ(WriteThenEof("ls"), "ls");
}

TEST_F(PtyCloseWriteTest, NonCanonicalWithoutExecChildGetsNothing) {
  SetCanonical(false);
  // A PTY address's other program reads raw data: no byte is made up.
  EXPECT_EQ(WriteThenEof("data\n"), "data\n");
}

TEST_F(PtyCloseWriteTest, ExitedChildGetsNothing) {
  SetCanonical(true);
  AttachExitedChild();
  Result<CloseWriteState> r = endpoint_->CloseWrite();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, CloseWriteState::kClosed);
  char buf[8];
  EXPECT_EQ(read(slave_.get(), buf, sizeof buf), -1);  // not even an EOF
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(PtyCloseWriteTest, WaitsUntilTheProgramReadItsInput) {
  SetCanonical(false);
  AttachChild(/*waiting=*/true);
  Write("ls\n");
  // Unread: a later mode switch (a line editor starting) would change what
  // the EOF character means, so it is not written yet.
  std::string got;
  EXPECT_EQ(CloseAndWait(&got, /*read_meanwhile=*/false, 100), CloseWriteState::kLater);
  EXPECT_EQ(ReadSlave(), "ls\n");
  EXPECT_EQ(CloseAndWait(&got), CloseWriteState::kClosed);
  EXPECT_EQ(got + ReadSlave(), "\x04");
}

TEST_F(PtyCloseWriteTest, WaitsWhileTheProgramIsBusy) {
  // A shell running a command (here: a child that sleeps without reading)
  // has the terminal in canonical mode, and its line editor switches back to
  // non-canonical before reading again: a canonical EOF written now would
  // become a NUL byte then, and the shell would never end.
  SetCanonical(true);
  AttachChild(/*waiting=*/false);
  std::string got;
  EXPECT_EQ(CloseAndWait(&got, true, 200), CloseWriteState::kLater);
  EXPECT_EQ(got, "");
  EXPECT_GE(endpoint_->write_fd(), 0) << "still open for the retry";
}

TEST_F(PtyCloseWriteTest, CanonicalReadsEndOfFile) {
  SetCanonical(true);
  AttachChild(/*waiting=*/true);
  Write("line\n");
  std::string got;
  ASSERT_EQ(CloseAndWait(&got), CloseWriteState::kClosed);
  EXPECT_EQ(got, "line\n");
  // The EOF character is no byte: the next read returns 0, end of file
  // (with nothing pending, a non-blocking read would fail with EAGAIN).
  char buf[64];
  pollfd p{slave_.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(read(slave_.get(), buf, sizeof buf), 0);
}

TEST_F(PtyCloseWriteTest, CanonicalWithoutExecChildAtOnce) {
  // A PTY address or a serial line: whoever reads it, canonical mode is the
  // only hint there is.
  SetCanonical(true);
  Write("line\n");
  Result<CloseWriteState> r = endpoint_->CloseWrite();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, CloseWriteState::kClosed);
  char buf[64];
  pollfd p{slave_.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(read(slave_.get(), buf, sizeof buf), 5);
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(read(slave_.get(), buf, sizeof buf), 0);
}

// A crash must not leave an inherited descriptor non-blocking: the shell that
// shares it would fail its next read with EAGAIN.
void CrashWithNonBlockingFd(int fd, bool guarded) {
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  std::unique_ptr<FlagsGuard> guard;
  if (guarded) guard = std::make_unique<FlagsGuard>(fd);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  raise(SIGABRT);
  _exit(0);  // not reached
}

// Forks a child that sets O_NONBLOCK on a pipe shared with us and crashes;
// returns the pipe's flags afterwards.
int FlagsAfterCrash(bool guarded) {
  int p[2];
  if (pipe(p) != 0) return -1;
  UniqueFd r(p[0]), w(p[1]);
  pid_t pid = fork();
  if (pid == 0) CrashWithNonBlockingFd(r.get(), guarded);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) << status;
  return fcntl(r.get(), F_GETFL);
}

TEST(FlagsGuardTest, CrashRestoresFileStatusFlags) {
  // Without a guard the flag would stay: the check below means something.
  EXPECT_NE(FlagsAfterCrash(/*guarded=*/false) & O_NONBLOCK, 0);
  EXPECT_EQ(FlagsAfterCrash(/*guarded=*/true) & O_NONBLOCK, 0);
}

TEST(FlagsGuardTest, MovedAndDismissedGuardsKeepTheCrashTableRight) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  {
    FlagsGuard a(r.get());
    FlagsGuard b(std::move(a));  // the crash entry moves along
    fcntl(r.get(), F_SETFL, O_NONBLOCK);
  }
  EXPECT_EQ(fcntl(r.get(), F_GETFL) & O_NONBLOCK, 0);
  {
    FlagsGuard a(r.get());
    a.Dismiss();
    fcntl(r.get(), F_SETFL, O_NONBLOCK);
  }
  EXPECT_NE(fcntl(r.get(), F_GETFL) & O_NONBLOCK, 0);
}

}  // namespace
}  // namespace vmcat

#include "endpoint/fifo.h"

#include "base/scratch_dir_for_tests.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace vmcat {
namespace {

class FifoOpenerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }
  bool IsFifo() const {
    struct stat st;
    return stat(path_.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
  }
  ScratchDir dir_{"fifo"};
  std::string path_ = dir_ / "fifo";
};

TEST_F(FifoOpenerTest, WriterWaitsForAReaderAndRemovesTheFifoItMade) {
  AddressSpec spec = *ParseAddress("PIPE:" + path_);
  FifoOpener opener(spec.first, "address 2", Access::kWrite);
  auto r = opener.TryOpen();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, nullptr);  // nobody reads yet: nothing may be written
  ASSERT_TRUE(IsFifo());
  EXPECT_EQ(opener.RetryDelay().count(), 10);

  UniqueFd reader(open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(reader.valid());
  r = opener.TryOpen();
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::unique_ptr<Endpoint> e = std::move(r).value();
  ASSERT_NE(e, nullptr);
  EXPECT_LT(e->read_fd(), 0);
  ASSERT_EQ(write(e->write_fd(), "x", 1), 1);
  e.reset();
  EXPECT_FALSE(IsFifo());  // created here: removed with the endpoint
  char c = 0;
  EXPECT_EQ(read(reader.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  EXPECT_EQ(read(reader.get(), &c, 1), 0);  // the writer closed: EOF
}

TEST_F(FifoOpenerTest, CancelledWhileWaitingRemovesOnlyAFifoItMade) {
  AddressSpec spec = *ParseAddress("PIPE:" + path_);
  {
    FifoOpener opener(spec.first, "address 2", Access::kWrite);
    auto r = opener.TryOpen();
    ASSERT_TRUE(r.ok() && *r == nullptr);
  }
  EXPECT_FALSE(IsFifo());
  ASSERT_EQ(mkfifo(path_.c_str(), 0600), 0);
  {
    FifoOpener opener(spec.first, "address 2", Access::kBoth);
    auto r = opener.TryOpen();
    ASSERT_TRUE(r.ok() && *r != nullptr);
    EXPECT_GE((*r)->read_fd(), 0);
    EXPECT_GE((*r)->write_fd(), 0);
  }
  EXPECT_TRUE(IsFifo());  // it was there before: kept
}

TEST_F(FifoOpenerTest, APathThatIsNotAFifoIsAnError) {
  int fd = open(path_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  AddressSpec spec = *ParseAddress("PIPE:" + path_);
  FifoOpener opener(spec.first, "address 1", Access::kRead);
  auto r = opener.TryOpen();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path_), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("not a named pipe"), std::string::npos);
  struct stat st;
  EXPECT_EQ(stat(path_.c_str(), &st), 0);  // left alone
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

}  // namespace
}  // namespace vmcat

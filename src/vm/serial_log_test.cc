#include "vm/serial_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "base/scratch_dir_for_tests.h"

namespace vmcat {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class RotatingLogTest : public ::testing::Test {
 protected:
  ScratchDir scratch_{"log-test"};
  const std::string& dir_ = scratch_.path();
};

TEST_F(RotatingLogTest, RotatesAndKeepsEveryByteWithinBudget) {
  std::string base = dir_ + "/serial.log";
  RotatingLog log(base, 100, 3);
  std::string all;
  for (int i = 0; i < 20; ++i) {
    std::string line = "line " + std::to_string(i) + " of the boot log\n";
    ASSERT_TRUE(log.Append(line).ok());
    all += line;
  }
  EXPECT_EQ(log.total(), all.size());
  EXPECT_LE(Slurp(base).size(), 100u);
  EXPECT_FALSE(Slurp(base + ".2").empty());
  EXPECT_EQ(access((base + ".3").c_str(), F_OK), -1);  // only 3 files in all
  auto kept = RotatingLog::ReadAll(base, 3);
  ASSERT_TRUE(kept.ok());
  // What is kept is exactly the end of the stream, and lines are never split.
  ASSERT_LE(kept->size(), all.size());
  EXPECT_EQ(all.substr(all.size() - kept->size()), *kept);
  EXPECT_EQ(kept->rfind("line ", 0), 0u);
}

TEST_F(RotatingLogTest, ReadAllOfMissingLogFails) {
  EXPECT_FALSE(RotatingLog::ReadAll(dir_ + "/none.log", 2).ok());
}

TEST(ByteRingTest, KeepsTheEndAndStartsAtALine) {
  ByteRing ring(32);
  ring.Append("first line\nsecond line\n");
  ring.Append("third line\nfourth");
  EXPECT_LE(ring.size(), 32u);
  std::string tail = ring.Tail(20);
  EXPECT_EQ(tail, "third line\nfourth");  // 17 bytes, starting right after a newline
  EXPECT_EQ(ring.Tail(10), "fourth");
  EXPECT_EQ(ring.Tail(1000).back(), 'h');
  ByteRing big(8);
  big.Append("0123456789abc");
  EXPECT_EQ(big.Tail(100), "56789abc");
}

}  // namespace
}  // namespace vmcat

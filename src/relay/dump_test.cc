#include "relay/dump.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace vmcat {
namespace {

class DumperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
  timespec When() { return timespec{1795454876, 341688123}; }  // 2026/11/23 17:27:56.341688123 (socat prints nanoseconds)
};

TEST_F(DumperTest, TextLikeSocatDashV) {
  Dumper d(true, false, '>');
  EXPECT_EQ(d.Format("hello\nwor\x01ld\r\n", When()),
            "> 2026/11/23 17:27:56.341688123  length=14 from=0 to=13\nhello\nwor.ld\\r\n");
  // Offsets continue across chunks.
  EXPECT_EQ(d.Format("ab", When()), "> 2026/11/23 17:27:56.341688123  length=2 from=14 to=15\nab");
}

TEST_F(DumperTest, TextEscapesLikeSocat) {
  Dumper d(true, false, '<');
  EXPECT_EQ(d.Format(std::string("\a\b\t\v\f\r\\\0\xff", 9), When()),
            "< 2026/11/23 17:27:56.341688123  length=9 from=0 to=8\n"
            "\\a\\b\t\\v\\f\\r\\\\..");
}

TEST_F(DumperTest, HexOnlyIsOneLine) {
  Dumper d(false, true, '<');
  EXPECT_EQ(d.Format("hi\n", When()),
            "< 2026/11/23 17:27:56.341688123  length=3 from=0 to=2\n 68 69 0a\n");
}

TEST_F(DumperTest, HexAndTextSixteenPerLine) {
  Dumper d(true, true, '>');
  std::string data(18, 'A');
  EXPECT_EQ(d.Format(data, When()),
            "> 2026/11/23 17:27:56.341688123  length=18 from=0 to=17\n"
            " 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41  AAAAAAAAAAAAAAAA\n"
            " 41 41                                            AA\n"
            "--\n");
}

TEST_F(DumperTest, HexAndTextRowsEndAtNewlines) {
  Dumper d(true, true, '>');
  EXPECT_EQ(d.Format("hi\nthere\n", When()),
            "> 2026/11/23 17:27:56.341688123  length=9 from=0 to=8\n"
            " 68 69 0a                                         hi.\n"
            " 74 68 65 72 65 0a                                there.\n"
            "--\n");
}

TEST_F(DumperTest, DisabledFormatsNothing) {
  Dumper d(false, false, '>');
  EXPECT_EQ(d.Format("x", When()), "");
}

}  // namespace
}  // namespace vmcat

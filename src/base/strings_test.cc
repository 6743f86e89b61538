#include "base/strings.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(ParseUnsignedTest, DecimalHexOctal) {
  EXPECT_EQ(ParseUnsigned("0", 10), 0u);
  EXPECT_EQ(ParseUnsigned("115200", 4000000), 115200u);
  EXPECT_EQ(ParseUnsigned("0x0f", 255), 15u);
  EXPECT_EQ(ParseUnsigned("0600", 07777), 0600u);
}

TEST(ParseUnsignedTest, RefusesWhatIsNotANumber) {
  for (const char* bad : {"", "x", "-1", "1.5", "12a", "0x", "09"}) {
    EXPECT_FALSE(ParseUnsigned(bad, 1000)) << bad;
  }
}

TEST(ParseUnsignedTest, RefusesValuesAboveTheMaximum) {
  EXPECT_EQ(ParseUnsigned("3", 3), 3u);
  EXPECT_FALSE(ParseUnsigned("4", 3));  // one digit above a one-digit maximum
  EXPECT_FALSE(ParseUnsigned("9", 0));
  EXPECT_EQ(ParseUnsigned("255", 255), 255u);
  EXPECT_FALSE(ParseUnsigned("256", 255));
  EXPECT_FALSE(ParseUnsigned("0x100", 255));
  EXPECT_EQ(ParseUnsigned("18446744073709551615", UINT64_MAX), UINT64_MAX);
  EXPECT_FALSE(ParseUnsigned("18446744073709551616", UINT64_MAX));
}

}  // namespace
}  // namespace vmcat

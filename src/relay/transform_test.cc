#include "relay/transform.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

std::string Convert(LineConverter::Mode mode, bool reading,
                    std::initializer_list<const char*> chunks) {
  LineConverter c(mode, reading);
  std::string out;
  for (const char* chunk : chunks)
    c.Convert(chunk, &out);
  c.Flush(&out);
  return out;
}

TEST(LineConverterTest, CrnlReadingStripsCarriageReturns) {
  EXPECT_EQ(Convert(LineConverter::Mode::kCrnl, true, {"a\r\nb\r\n"}), "a\nb\n");
  // A lone \r stays; a \r\n split across reads is still recognised.
  EXPECT_EQ(Convert(LineConverter::Mode::kCrnl, true, {"a\rb\r", "\nc"}), "a\rb\nc");
  EXPECT_EQ(Convert(LineConverter::Mode::kCrnl, true, {"end\r"}), "end\r");
}

TEST(LineConverterTest, CrnlWritingAddsCarriageReturns) {
  EXPECT_EQ(Convert(LineConverter::Mode::kCrnl, false, {"a\nb\n"}), "a\r\nb\r\n");
}

TEST(LineConverterTest, CrSwaps) {
  EXPECT_EQ(Convert(LineConverter::Mode::kCr, true, {"a\rb\n"}), "a\nb\r");
}

TEST(LineConverterTest, NoneIsIdentity) {
  std::string binary("\0\r\n\xff", 4);
  LineConverter c(LineConverter::Mode::kNone, true);
  std::string out;
  c.Convert(binary, &out);
  EXPECT_EQ(out, binary);
}

TEST(FindEscapeTest, FindsTheByte) {
  EXPECT_EQ(FindEscape("abc\x0f"
                       "def",
                       0x0f),
            3u);
  EXPECT_EQ(FindEscape("abc", 0x0f), std::nullopt);
  EXPECT_EQ(FindEscape("a\x0f", std::nullopt), std::nullopt);
}

}  // namespace
}  // namespace vmcat

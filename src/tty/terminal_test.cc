#include "tty/terminal.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

// A cooked terminal, as a shell leaves it.
struct termios Cooked() {
  struct termios t = {};
  t.c_iflag = ICRNL | IXON;
  t.c_oflag = OPOST | ONLCR;
  t.c_lflag = ECHO | ICANON | ISIG | IEXTEN | ECHOE | ECHOK;
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  return t;
}

TEST(ApplyTermiosSettings, RawTurnsOffLineDisciplineAndReadsByteByByte) {
  TermiosSettings s;
  s.raw = true;
  struct termios t = ApplyTermiosSettings(Cooked(), s);
  EXPECT_FALSE(t.c_lflag & (ECHO | ICANON | ISIG));
  EXPECT_FALSE(t.c_iflag & ICRNL);
  EXPECT_EQ(t.c_cc[VMIN], 1);
  EXPECT_EQ(t.c_cc[VTIME], 0);
}

TEST(ApplyTermiosSettings, RawerAlsoDropsOnlcrAsSocatDoes) {
  TermiosSettings s;
  s.rawer = true;
  struct termios t = ApplyTermiosSettings(Cooked(), s);
  EXPECT_FALSE(t.c_oflag & (OPOST | ONLCR));
  EXPECT_FALSE(t.c_lflag & (ECHO | ICANON | ISIG));
}

TEST(ApplyTermiosSettings, SingleFlagsChangeOnlyThemselves) {
  TermiosSettings s;
  s.echo = false;
  s.icanon = false;
  struct termios t = ApplyTermiosSettings(Cooked(), s);
  EXPECT_FALSE(t.c_lflag & (ECHO | ICANON));
  EXPECT_TRUE(t.c_lflag & ISIG);
  EXPECT_TRUE(t.c_oflag & ONLCR);
  EXPECT_EQ(t.c_cc[VMIN], 1);  // icanon=0 returns each byte at once
  TermiosSettings back;
  back.echo = true;
  EXPECT_TRUE(ApplyTermiosSettings(t, back).c_lflag & ECHO);
}

}  // namespace
}  // namespace vmcat

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

TEST(ApplyTermiosSettings, SerialLineSpeedSizeAndParity) {
  struct termios base = Cooked();
  base.c_cflag = CS8 | CREAD | B38400;
  TermiosSettings s;
  // glibc keeps one speed for both directions on Linux (as socat's b115200).
  s.ispeed = B115200;
  s.ospeed = B115200;
  s.csize = CS7;
  s.parenb = true;
  s.parodd = true;
  s.cstopb = true;
  s.clocal = true;
  struct termios t = ApplyTermiosSettings(base, s);
  EXPECT_EQ(cfgetispeed(&t), static_cast<speed_t>(B115200));
  EXPECT_EQ(cfgetospeed(&t), static_cast<speed_t>(B115200));
  EXPECT_EQ(t.c_cflag & CSIZE, static_cast<tcflag_t>(CS7));
  EXPECT_TRUE(t.c_cflag & PARENB);
  EXPECT_TRUE(t.c_cflag & PARODD);
  EXPECT_TRUE(t.c_cflag & CSTOPB);
  EXPECT_TRUE(t.c_cflag & CLOCAL);
  EXPECT_TRUE(t.c_cflag & CREAD);  // untouched
  // raw makes 8 bits without parity, unless the options say otherwise.
  TermiosSettings r;
  r.raw = true;
  r.csize = CS7;
  r.parenb = true;
  struct termios rt = ApplyTermiosSettings(base, r);
  EXPECT_EQ(rt.c_cflag & CSIZE, static_cast<tcflag_t>(CS7));
  EXPECT_TRUE(rt.c_cflag & PARENB);
  EXPECT_EQ(cfgetospeed(&rt), static_cast<speed_t>(B38400));  // speed kept
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

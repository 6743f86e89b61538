#include "tty/query_filter.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

std::string FilterAll(std::string_view text) {
  TerminalQueryFilter f;
  std::string out = f.Filter(text);
  return out + f.Finish();
}

TEST(TerminalQueryFilter, DropsCursorPositionRequestsOfAShellPrompt) {
  EXPECT_EQ(FilterAll("guest# \x1b[6n"), "guest# ");
  EXPECT_EQ(FilterAll("a\x1b[5nb\x1b[?6nc"), "abc");
}

TEST(TerminalQueryFilter, DropsDeviceAttributeAndWindowReportRequests) {
  EXPECT_EQ(FilterAll("\x1b[c\x1b[0c\x1b[>c\x1b[>0c\x1b[=c|"), "|");
  EXPECT_EQ(FilterAll("\x1b[18t\x1b[14t|"), "|");
}

TEST(TerminalQueryFilter, KeepsEverythingElse) {
  std::string colors = "\x1b[1;31mred\x1b[0m \x1b[2J\x1b[H\x1b[6;1H\x1b[8;24;80t\x1b]0;title\x07";
  EXPECT_EQ(FilterAll(colors), colors);
  EXPECT_EQ(FilterAll("plain text\r\n"), "plain text\r\n");
  EXPECT_EQ(FilterAll("\x1b"), "\x1b");
  EXPECT_EQ(FilterAll("\x1b[6"), "\x1b[6");  // unfinished at the end: kept
  std::string binary("\0\x1b\x1b[\xff", 5);
  EXPECT_EQ(FilterAll(binary), binary);
}

TEST(TerminalQueryFilter, QuerySplitAcrossChunksAtEveryPosition) {
  std::string text = "before\x1b[6nafter\x1b[1mbold";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    TerminalQueryFilter f;
    std::string out = f.Filter(std::string_view(text).substr(0, cut));
    out += f.Filter(std::string_view(text).substr(cut));
    out += f.Finish();
    EXPECT_EQ(out, "beforeafter\x1b[1mbold") << "cut at " << cut;
  }
}

TEST(TerminalQueryFilter, LongSequencesAreNotHeldBack) {
  TerminalQueryFilter f;
  // A long SGR sequence that is still going at the end of the chunk cannot
  // be a query: it is passed on at once.
  EXPECT_EQ(f.Filter("\x1b[38;5;196;48;5;2"), "\x1b[38;5;196;48;5;2");
  EXPECT_EQ(f.Filter("m"), "m");
  EXPECT_EQ(f.Finish(), "");
}

}  // namespace
}  // namespace vmcat

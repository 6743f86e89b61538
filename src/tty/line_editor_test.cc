#include "tty/line_editor.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

LineEditor::Output Type(LineEditor* e, std::string_view keys) {
  LineEditor::Output out;
  e->Feed(keys, &out);
  return out;
}

TEST(LineEditorTest, PipedCommandsEchoLikeQemu) {
  LineEditor e("(qemu) ");
  auto out = Type(&e, "info status\ninfo name\n");
  EXPECT_EQ(out.lines, (std::vector<std::string>{"info status", "info name"}));
  EXPECT_EQ(out.echo, "info status\r\ninfo name\r\n");
}

TEST(LineEditorTest, CrLfIsOneEnter) {
  LineEditor e("> ");
  auto out = Type(&e, "a\r\nb\r\n");
  EXPECT_EQ(out.lines, (std::vector<std::string>{"a", "b"}));
}

TEST(LineEditorTest, EditingKeys) {
  LineEditor e("> ");
  // "hello", Left x2, 'X', Home, 'A', End, Backspace, Enter
  auto out = Type(&e,
                  "hello\x1b[D\x1b[DX\x01"
                  "A\x05\x7f\r");
  EXPECT_EQ(out.lines, std::vector<std::string>{"AhelXl"});
  auto kill = Type(&e,
                   "one two three\x17\x17"
                   "x\r");
  EXPECT_EQ(kill.lines, std::vector<std::string>{"one x"});
  auto ctrl_u = Type(&e,
                     "abc\x15"
                     "def\r");
  EXPECT_EQ(ctrl_u.lines, std::vector<std::string>{"def"});
  auto del = Type(&e, "abc\x01\x1b[3~\r");
  EXPECT_EQ(del.lines, std::vector<std::string>{"bc"});
}

TEST(LineEditorTest, HistoryUpDown) {
  LineEditor e("> ");
  Type(&e, "first\rsecond\r");
  auto out = Type(&e, "\x1b[A\x1b[A\r");
  EXPECT_EQ(out.lines, std::vector<std::string>{"first"});
  auto down = Type(&e, "draft\x1b[A\x1b[B\r");
  EXPECT_EQ(down.lines, std::vector<std::string>{"draft"});
  EXPECT_EQ(e.history().back(), "draft");
}

TEST(LineEditorTest, CtrlCAbandonsCtrlDEnds) {
  LineEditor e("> ");
  auto c = Type(&e, "oops\x03");
  EXPECT_TRUE(c.lines.empty());
  EXPECT_EQ(e.line(), "");
  auto d = Type(&e, "\x04ignored\r");
  EXPECT_TRUE(d.eof);
  EXPECT_TRUE(d.lines.empty());
}

TEST(LineEditorTest, SharedHistory) {
  std::deque<std::string> shared;
  LineEditor a("> "), b("> ");
  a.set_history(&shared);
  b.set_history(&shared);
  Type(&a, "from a\r");
  auto out = Type(&b, "\x1b[A\r");
  EXPECT_EQ(out.lines, std::vector<std::string>{"from a"});
}

TEST(LineEditorTest, UnknownEscapesAreNotInserted) {
  LineEditor e("> ");
  auto out = Type(&e, "a\x1b[15~b\x1bOPc\r");
  EXPECT_EQ(out.lines, std::vector<std::string>{"abc"});
}

}  // namespace
}  // namespace vmcat

#include "agent/protocol.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(FrameTest, RoundTripInTinyPieces) {
  std::string stream = EncodeJsonFrame(MessageType::kHello, 0, {{"protocol", 1}}) +
                       EncodeFrame(MessageType::kStdout, 7, std::string("a\0b", 3)) +
                       EncodeWindowFrame(7, 4096) + EncodeFrame(MessageType::kStdinEof, 7, "");
  FrameDecoder d;
  std::vector<Frame> frames;
  for (char c : stream)
    ASSERT_TRUE(d.Feed(std::string_view(&c, 1), &frames).ok());
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].type, MessageType::kHello);
  EXPECT_EQ((*frames[0].JsonPayload())["protocol"], 1);
  EXPECT_EQ(frames[1].type, MessageType::kStdout);
  EXPECT_EQ(frames[1].session, 7u);
  EXPECT_EQ(frames[1].payload, std::string("a\0b", 3));
  EXPECT_EQ(*DecodeWindowPayload(frames[2].payload), 4096u);
  EXPECT_EQ(frames[3].payload, "");
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(d.skipped_bytes(), 0u);
}

TEST(FrameTest, ResynchronisesAfterGarbage) {
  // The tail of a frame cut by an agent restart, then a fresh HELLO.
  std::string cut = EncodeFrame(MessageType::kStdout, 3, std::string(100, 'x')).substr(30);
  std::string stream = cut + EncodeJsonFrame(MessageType::kHello, 0, {{"protocol", 1}});
  FrameDecoder d;
  std::vector<Frame> frames;
  ASSERT_TRUE(d.Feed(stream, &frames).ok());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, MessageType::kHello);
  EXPECT_EQ(d.skipped_bytes(), cut.size());
}

TEST(FrameTest, OversizedHeaderIsRejectedAndSkipped) {
  std::string bogus = EncodeFrame(MessageType::kData, 1, "");
  bogus[4] = '\xff';
  bogus[5] = '\xff';
  bogus[6] = '\xff';  // length ~16M
  FrameDecoder d;
  std::vector<Frame> frames;
  Status s = d.Feed(bogus + EncodeFrame(MessageType::kPing, 2, "p"), &frames);
  EXPECT_FALSE(s.ok());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, MessageType::kPing);
}

TEST(ExecRequestTest, JsonRoundTripAndValidation) {
  ExecRequest r;
  r.argv = {"sh", "-c", "echo $X"};
  r.env = {"X=1"};
  r.tty = true;
  r.rows = 50;
  auto back = ExecRequest::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->argv, r.argv);
  EXPECT_EQ(back->env, r.env);
  EXPECT_TRUE(back->tty);
  EXPECT_EQ(back->rows, 50);
  EXPECT_EQ(ExecRequest::FromJson(Json{{"argv", Json::array()}}).status().message(),
            "EXEC: \"argv\" must be a non-empty list of strings");
  EXPECT_EQ(ExecRequest::FromJson(Json{{"argv", {"x"}}, {"env", {"NOEQUALS"}}}).status().message(),
            "EXEC: \"env\" entries must be K=V strings");
}

}  // namespace
}  // namespace vmcat

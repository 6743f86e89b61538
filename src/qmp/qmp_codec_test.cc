#include "qmp/qmp_codec.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

// Lines captured from QEMU 7.2.
constexpr char kGreeting[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
    "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n";

TEST(QmpDecoderTest, DecodesQemuMessagesSplitAnywhere) {
  std::string stream = std::string(kGreeting) +
                       "{\"return\": {}, \"id\": 1}\r\n"
                       "{\"timestamp\": {\"seconds\": 1795456736, \"microseconds\": 385024}, "
                       "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": "
                       "\"host-qmp-quit\"}}\r\n"
                       "{\"id\": 2, \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                       "\"The command nope has not been found\"}}\r\n";
  QmpDecoder d;
  std::vector<QmpMessage> out;
  for (size_t i = 0; i < stream.size(); i += 7) {
    ASSERT_TRUE(d.Feed(std::string_view(stream).substr(i, 7), &out).ok());
  }
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].kind, QmpMessageKind::kGreeting);
  EXPECT_EQ(out[0].body["QMP"]["version"]["qemu"]["major"], 7);
  EXPECT_EQ(out[1].kind, QmpMessageKind::kReturn);
  EXPECT_EQ(out[1].id, 1u);
  EXPECT_EQ(out[2].kind, QmpMessageKind::kEvent);
  EXPECT_EQ(out[2].event, "SHUTDOWN");
  EXPECT_EQ(out[2].body["data"]["reason"], "host-qmp-quit");
  EXPECT_EQ(out[3].kind, QmpMessageKind::kError);
  EXPECT_EQ(out[3].id, 2u);
  EXPECT_EQ(out[3].error_class, "CommandNotFound");
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(QmpDecoderTest, MalformedLineIsReportedAndSkipped) {
  QmpDecoder d;
  std::vector<QmpMessage> out;
  Status s = d.Feed("{not json}\r\n{\"return\": 5}\r\n", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("malformed JSON"), std::string::npos);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body["return"], 5);
}

TEST(QmpDecoderTest, IncompleteLineIsHeldBack) {
  QmpDecoder d;
  std::vector<QmpMessage> out;
  ASSERT_TRUE(d.Feed("{\"return\"", &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.buffered(), 9u);
}

TEST(QmpEncodeTest, CommandWithAndWithoutArguments) {
  EXPECT_EQ(EncodeQmpCommand("query-status", Json::object(), 3),
            "{\"execute\":\"query-status\",\"id\":3}\n");
  EXPECT_EQ(EncodeQmpCommand("human-monitor-command", {{"command-line", "info status"}}, 4),
            "{\"arguments\":{\"command-line\":\"info status\"},\"execute\":\"human-monitor-"
            "command\",\"id\":4}\n");
}

}  // namespace
}  // namespace vmcat

#include "vm/control_protocol.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(ControlProtocolTest, RoundTripsEveryOp) {
  ControlRequest qmp;
  qmp.op = ControlOp::kQmp;
  qmp.execute = "query-status";
  qmp.arguments = Json{{"x", 1}};
  auto r = ParseControlRequest(EncodeControlRequest(qmp));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->op, ControlOp::kQmp);
  EXPECT_EQ(r->execute, "query-status");
  EXPECT_EQ(r->arguments["x"], 1);

  ControlRequest stop;
  stop.op = ControlOp::kStop;
  stop.timeout = 2.5;
  stop.force = true;
  auto s = ParseControlRequest(EncodeControlRequest(stop));
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->timeout, 2.5);
  EXPECT_TRUE(s->force);

  auto h = ParseControlRequest("{\"op\":\"hmp\",\"command\":\"info status\"}");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->command, "info status");
}

TEST(ControlProtocolTest, BadRequests) {
  EXPECT_EQ(ParseControlRequest("nope").status().message(), "request is not a JSON object");
  EXPECT_EQ(ParseControlRequest("{\"op\":\"reboot\"}").status().message(), "unknown op \"reboot\"");
  EXPECT_EQ(ParseControlRequest("{\"op\":\"hmp\"}").status().message(), "missing \"command\"");
  EXPECT_EQ(ParseControlRequest("{\"op\":\"qmp\",\"execute\":\"x\",\"arguments\":[1]}")
                .status()
                .message(),
            "\"arguments\" must be a JSON object");
  EXPECT_EQ(ParseControlRequest("{\"op\":\"stop\",\"timeout\":-1}").status().message(),
            "\"timeout\" must be a non-negative number");
}

TEST(ControlProtocolTest, Replies) {
  EXPECT_EQ(ControlOk(), "{\"ok\":true}\n");
  EXPECT_EQ(ControlError("no such VM"), "{\"error\":\"no such VM\",\"ok\":false}\n");
}

TEST(HmpErrorTest, RecognisesQemuFailureTexts) {
  EXPECT_TRUE(HmpOutputLooksLikeError(
      "Error: Device 'disk0' does not have the requested snapshot 'x'\r\n"));
  EXPECT_TRUE(HmpOutputLooksLikeError("unknown command: 'foo'\r\n"));
  EXPECT_TRUE(HmpOutputLooksLikeError("Could not set up host forwarding rule 'tcp::1-:2'\r\n"));
  EXPECT_FALSE(HmpOutputLooksLikeError("VM status: running\r\n"));
  EXPECT_FALSE(HmpOutputLooksLikeError(""));
}

}  // namespace
}  // namespace vmcat

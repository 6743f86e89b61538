#include "cli/flags.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(FlagSetTest, ParsesFormsAndPositionals) {
  FlagSet fs("vmcat x NAME", "");
  bool force = false, json = false;
  std::string name;
  double timeout = 30;
  std::vector<std::string> nets;
  fs.Bool("-f,--force", &force, "");
  fs.Bool("--json", &json, "");
  fs.String("--name", &name, "N", "");
  fs.Seconds("-t,--timeout", &timeout, "");
  fs.Strings("--net", &nets, "SPEC", "");
  std::vector<std::string> pos, rest;
  ASSERT_TRUE(fs.Parse({"web1", "--name=a", "-t", "2.5", "--net", "user", "--net=stream,path=/x",
                        "-f", "--json", "--", "ls", "-l"},
                       &pos, &rest)
                  .ok());
  EXPECT_EQ(pos, std::vector<std::string>{"web1"});
  EXPECT_EQ(rest, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(name, "a");
  EXPECT_DOUBLE_EQ(timeout, 2.5);
  EXPECT_EQ(nets.size(), 2u);
  EXPECT_TRUE(force);
  EXPECT_TRUE(json);
}

TEST(FlagSetTest, ShortValueAttachedAndGroupedBools) {
  FlagSet fs("x", "");
  bool a = false, b = false;
  double t = 0;
  fs.Bool("-a", &a, "");
  fs.Bool("-b", &b, "");
  fs.Seconds("-t", &t, "");
  std::vector<std::string> pos;
  ASSERT_TRUE(fs.Parse({"-ab", "-t5"}, &pos).ok());
  EXPECT_TRUE(a && b);
  EXPECT_DOUBLE_EQ(t, 5);
}

TEST(FlagSetTest, Errors) {
  FlagSet fs("x", "");
  double t = 0;
  bool f = false;
  fs.Seconds("--timeout", &t, "");
  fs.Bool("--force", &f, "");
  std::vector<std::string> pos;
  EXPECT_EQ(fs.Parse({"--bogus"}, &pos).message(), "unknown option \"--bogus\"");
  EXPECT_EQ(fs.Parse({"--timeout"}, &pos).message(), "option --timeout needs a value");
  EXPECT_EQ(fs.Parse({"--timeout", "soon"}, &pos).message(),
            "option --timeout: expected seconds such as 30 or 0.5, got \"soon\"");
  EXPECT_EQ(fs.Parse({"--force=1"}, &pos).message(), "option --force takes no value");
}

TEST(FlagSetTest, HelpListsFlags) {
  FlagSet fs("vmcat stop NAME", "Stops a VM.");
  bool force = false;
  fs.Bool("-f,--force", &force, "kill QEMU now");
  std::string h = fs.Help();
  EXPECT_NE(h.find("Usage: vmcat stop NAME"), std::string::npos);
  EXPECT_NE(h.find("-f, --force"), std::string::npos);
  EXPECT_NE(h.find("kill QEMU now"), std::string::npos);
}

}  // namespace
}  // namespace vmcat

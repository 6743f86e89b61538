#include "cli/cp_args.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(CopyOperandsTest, IntoTheGuest) {
  auto r = ParseCopyOperands({"a.txt", "dir", "vm1:/tmp/"}, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->into_guest);
  EXPECT_EQ(r->vm, "vm1");
  EXPECT_EQ(r->sources, (std::vector<std::string>{"a.txt", "dir"}));
  EXPECT_EQ(r->dest, "/tmp/");
}

TEST(CopyOperandsTest, OutOfTheGuest) {
  auto r = ParseCopyOperands({"vm-2:/etc/hostname", "vm-2:/var/log", "."}, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->into_guest);
  EXPECT_EQ(r->vm, "vm-2");
  EXPECT_EQ(r->sources, (std::vector<std::string>{"/etc/hostname", "/var/log"}));
  EXPECT_EQ(r->dest, ".");
}

TEST(CopyOperandsTest, LocalNamesWithColons) {
  // A slash before the colon, or a leading "." or "/", makes it local.
  auto r = ParseCopyOperands({"./a:b", "/x/c:d", "dir/e:f", "vm:/tmp"}, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sources, (std::vector<std::string>{"./a:b", "/x/c:d", "dir/e:f"}));
  // Not a valid VM name: local.
  auto bad_name = ParseCopyOperands({"-x:y", "vm:/tmp"}, false);
  ASSERT_TRUE(bad_name.ok());
  EXPECT_EQ(bad_name->sources[0], "-x:y");
}

TEST(CopyOperandsTest, Vsock) {
  auto in = ParseCopyOperands({"f", ":/tmp/f"}, true);
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_TRUE(in->into_guest);
  EXPECT_EQ(in->vm, "");
  EXPECT_EQ(in->dest, "/tmp/f");
  auto out = ParseCopyOperands({":/etc/passwd", "vm:x"}, true);  // a local file "vm:x"
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FALSE(out->into_guest);
  EXPECT_EQ(out->dest, "vm:x");
}

TEST(CopyOperandsTest, Errors) {
  EXPECT_FALSE(ParseCopyOperands({"only-one"}, false).ok());
  auto local = ParseCopyOperands({"a", "b"}, false);
  ASSERT_FALSE(local.ok());
  EXPECT_NE(local.status().message().find("NAME:/path"), std::string::npos);
  auto both = ParseCopyOperands({"vm:/a", "vm:/b"}, false);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("exactly one side"), std::string::npos);
  EXPECT_FALSE(ParseCopyOperands({"vm:/a", "local", "vm:/b"}, false).ok());
  EXPECT_FALSE(ParseCopyOperands({"a", "vm:/x", "b"}, false).ok());
  auto two_vms = ParseCopyOperands({"vm1:/a", "vm2:/b", "."}, false);
  ASSERT_FALSE(two_vms.ok());
  EXPECT_NE(two_vms.status().message().find("same VM"), std::string::npos);
  auto relative = ParseCopyOperands({"a", "vm:tmp/x"}, false);
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("absolute"), std::string::npos);
  EXPECT_FALSE(ParseCopyOperands({"a", "vm:"}, false).ok());
  EXPECT_FALSE(ParseCopyOperands({"", "vm:/x"}, false).ok());
}

}  // namespace
}  // namespace vmcat

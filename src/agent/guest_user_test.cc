#include "agent/guest_user.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "base/scratch_dir_for_tests.h"

namespace vmcat {
namespace {

class GuestUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ + "/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                       "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
                                       "broken line\n";
    std::ofstream(dir_ + "/group") << "root:x:0:\nwheel:x:10:nobody,other\n";
  }
  Result<GuestUser> Look(const std::string& u) {
    return LookupGuestUser(u, dir_ + "/passwd", dir_ + "/group");
  }
  ScratchDir scratch_{"user-test"};
  const std::string& dir_ = scratch_.path();
};

TEST_F(GuestUserTest, ByNameWithGroups) {
  auto u = Look("nobody");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 65534u);
  EXPECT_EQ(u->home, "/nonexistent");
  EXPECT_EQ(u->groups, (std::vector<gid_t>{65534, 10}));
}

TEST_F(GuestUserTest, ByUidAndUnknownUid) {
  EXPECT_EQ(Look("0")->name, "root");
  auto anon = Look("1234");
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->uid, 1234u);
  EXPECT_EQ(anon->gid, 1234u);
}

TEST_F(GuestUserTest, UnknownName) {
  auto u = Look("ghost");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().sys_errno(), ENOENT);
  EXPECT_NE(u.status().message().find("no user \"ghost\""), std::string::npos);
}

}  // namespace
}  // namespace vmcat

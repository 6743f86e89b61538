#include "base/program.h"

#include <stdlib.h>

#include <gtest/gtest.h>

namespace vmcat {
namespace {

TEST(FindProgram, SearchesThePathForAnExecutableRegularFile) {
  EXPECT_EQ(FindProgram("sh", "/nonexistent:/bin"), "/bin/sh");
  EXPECT_EQ(FindProgram("bin", "/"), "");  // a directory is no program
  EXPECT_EQ(FindProgram("no-such-program-anywhere", "/bin:/usr/bin"), "");
  EXPECT_EQ(FindProgram("./relative/x", "/bin"), "./relative/x");
}

TEST(EnvironmentWith, ReplacesExistingAndAppendsNewInOrder) {
  setenv("VMCAT_PROGRAM_TEST", "old", 1);
  auto env = EnvironmentWith({"VMCAT_PROGRAM_TEST=new", "VMCAT_PROGRAM_TEST_2=a",
                              "VMCAT_PROGRAM_TEST_2=b"});
  int first = 0, second = 0;
  for (const std::string& e : env) {
    if (e.rfind("VMCAT_PROGRAM_TEST=", 0) == 0) {
      ++first;
      EXPECT_EQ(e, "VMCAT_PROGRAM_TEST=new");
    }
    if (e.rfind("VMCAT_PROGRAM_TEST_2=", 0) == 0) {
      ++second;
      EXPECT_EQ(e, "VMCAT_PROGRAM_TEST_2=b");  // the later setting wins
    }
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  unsetenv("VMCAT_PROGRAM_TEST");
  auto ptrs = NullTerminated(env);
  ASSERT_EQ(ptrs.size(), env.size() + 1);
  EXPECT_EQ(ptrs.back(), nullptr);
}

}  // namespace
}  // namespace vmcat

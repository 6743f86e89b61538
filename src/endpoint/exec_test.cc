#include "endpoint/exec.h"

#include "base/scratch_dir_for_tests.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vmcat {
namespace {

using Words = std::vector<std::string>;

TEST(SplitCommandLine, SpacesSeparateQuotesGroupBackslashEscapes) {
  EXPECT_EQ(*SplitCommandLine("ls  -l /tmp"), (Words{"ls", "-l", "/tmp"}));
  EXPECT_EQ(*SplitCommandLine("sh -c 'echo a  b'"), (Words{"sh", "-c", "echo a  b"}));
  EXPECT_EQ(*SplitCommandLine("printf \"%s\" a\\ b"), (Words{"printf", "%s", "a b"}));
  EXPECT_EQ(*SplitCommandLine("prog \"\" x"), (Words{"prog", "", "x"}));
}

TEST(SplitCommandLine, OnlySpacesSeparateAsInSocat) {
  EXPECT_EQ(*SplitCommandLine("prog a\tb"), (Words{"prog", "a\tb"}));
  EXPECT_EQ(*SplitCommandLine("prog a\nb"), (Words{"prog", "a\nb"}));
}

TEST(SplitCommandLine, MalformedLinesAreErrors) {
  EXPECT_FALSE(SplitCommandLine("").ok());
  EXPECT_FALSE(SplitCommandLine("   ").ok());
  EXPECT_FALSE(SplitCommandLine("echo 'open").ok());
  EXPECT_FALSE(SplitCommandLine("echo a\\").ok());
}

// A PATH of two scratch directories for the length of a test.
class ExecPathTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(root_.path().empty());
    first_ = root_ / "first";
    second_ = root_ / "second";
    mkdir(first_.c_str(), 0755);
    mkdir(second_.c_str(), 0755);
    const char* old = getenv("PATH");
    old_path_ = old ? old : "";
    setenv("PATH", (first_ + ":" + second_ + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }
  void WriteScript(const std::string& dir, const std::string& exit_code) {
    std::string path = dir + "/vmcat-test-prog";
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fprintf(f, "#!/bin/sh\nexit %s\n", exit_code.c_str());
    fclose(f);
    chmod(path.c_str(), 0755);
  }
  // Runs EXEC:vmcat-test-prog and returns its exit status.
  int RunProgram() {
    auto spec = ParseAddress("EXEC:vmcat-test-prog");
    EXPECT_TRUE(spec.ok());
    auto endpoint = SpawnExec(spec->first, "address 2");
    EXPECT_TRUE(endpoint.ok()) << endpoint.status().message();
    if (!endpoint.ok()) return -1;
    int status = 0;
    waitpid((*endpoint)->children()[0]->pid(), &status, 0);
    (*endpoint)->children()[0]->MarkExited(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  ScratchDir root_{"exec-test"};
  std::string first_, second_, old_path_;
};

TEST_F(ExecPathTest, FindsTheProgramAgainAfterItMoved) {
  WriteScript(first_, "3");
  EXPECT_EQ(RunProgram(), 3);
  EXPECT_EQ(RunProgram(), 3);  // from the remembered path
  // The remembered path goes away; the one later in PATH is found.
  unlink((first_ + "/vmcat-test-prog").c_str());
  WriteScript(second_, "4");
  EXPECT_EQ(RunProgram(), 4);
}

TEST_F(ExecPathTest, MissingProgramIsAnErrorNamingIt) {
  auto spec = ParseAddress("EXEC:vmcat-no-such-program-here");
  ASSERT_TRUE(spec.ok());
  auto endpoint = SpawnExec(spec->first, "address 2");
  ASSERT_FALSE(endpoint.ok());
  EXPECT_NE(endpoint.status().message().find("\"vmcat-no-such-program-here\""), std::string::npos)
      << endpoint.status().message();
}

}  // namespace
}  // namespace vmcat

#include "base/resident.h"

#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace vmcat {
namespace {

long RssFileKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

TEST(ReleaseProgramText, DropsResidentTextAndCodeKeepsRunning) {
  long before = RssFileKib();
  ASSERT_GT(before, 0);
  auto released = ReleaseProgramText();
  ASSERT_TRUE(released.ok()) << released.status().message();
  EXPECT_GT(*released, 0u);
  // The code that runs next (this test, gtest, RssFileKib) faults back in;
  // the rest of the text is no longer resident.
  long after = RssFileKib();
  EXPECT_LT(after, before) << "before " << before << " KiB, after " << after << " KiB";
  // Calling it again is harmless.
  EXPECT_TRUE(ReleaseProgramText().ok());
}

}  // namespace
}  // namespace vmcat

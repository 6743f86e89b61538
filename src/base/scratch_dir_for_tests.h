// A scratch directory under /tmp for the length of a unit test, removed with
// everything in it when the object goes. For tests only.
#pragma once

#include <stdlib.h>

#include <string>

namespace vmcat {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag = "test") {
    std::string tmpl = "/tmp/vmcat-" + tag + "-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    if (!path_.empty()) system(("rm -rf '" + path_ + "'").c_str());
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  /// Empty when the directory could not be made.
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vmcat

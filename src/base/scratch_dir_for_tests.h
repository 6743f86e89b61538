// A scratch directory under /tmp for the length of a unit test, removed with
// everything in it when the object goes, even subdirectories a test made
// read-only. For tests only.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace vmcat {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag = "test") {
    std::string tmpl = "/tmp/vmcat-" + tag + "-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    if (!path_.empty()) RemoveTree(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  /// Empty when the directory could not be made.
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

  /// Removes `path` and, if it is a directory, everything under it (symbolic
  /// links are removed, never followed).
  static void RemoveTree(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) < 0) return;
    if (!S_ISDIR(st.st_mode)) {
      unlink(path.c_str());
      return;
    }
    chmod(path.c_str(), 0700);  // a test may have taken away our own access
    if (DIR* d = opendir(path.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") RemoveTree(path + "/" + name);
      }
      closedir(d);
    }
    rmdir(path.c_str());
  }

 private:
  std::string path_;
};

}  // namespace vmcat

#include "base/resident.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace vmcat {

Result<size_t> ReleaseProgramText() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return Status::Errno("readlink /proc/self/exe", errno);
  exe[n] = '\0';
  FILE* maps = fopen("/proc/self/maps", "re");
  if (maps == nullptr) return Status::Errno("open /proc/self/maps", errno);
  size_t released = 0;
  Status failed = Status::Ok();
  char line[4096 + 256];
  while (fgets(line, sizeof line, maps) != nullptr) {
    unsigned long start = 0, end = 0;
    char perms[8] = "";
    int path_at = 0;
    // start-end perms offset dev inode path
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) continue;
    std::string path(line + path_at);
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    // Only the private, read-only, executable mapping of our own file:
    // writable or once-written (relocated) pages must stay.
    if (path != exe || std::strcmp(perms, "r-xp") != 0) continue;
    if (madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED) != 0) {
      failed = Status::Errno("madvise(MADV_DONTNEED) on program text", errno);
      break;
    }
    released += end - start;
  }
  fclose(maps);
  if (!failed.ok()) return failed;
  return released;
}

}  // namespace vmcat

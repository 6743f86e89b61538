#include "vm/runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace vmcat {

std::string RuntimeRoot(const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  if (const char* env = getenv("VMCAT_RUNTIME_DIR"); env != nullptr && *env != '\0') return env;
  if (geteuid() == 0) return "/run/vmcat";
  if (const char* xdg = getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/vmcat";
  }
  return "/tmp/vmcat-" + std::to_string(geteuid());
}

VmPaths VmPaths::For(const std::string& root, const std::string& name) {
  VmPaths p;
  p.dir = root + "/" + name;
  p.ctl = p.dir + "/ctl.sock";
  p.serial = p.dir + "/serial.sock";
  p.monitor = p.dir + "/monitor.sock";
  p.serial_log = p.dir + "/serial.log";
  p.qemu_log = p.dir + "/qemu.log";
  p.supervisor_log = p.dir + "/supervisor.log";
  p.state = p.dir + "/state.json";
  p.lock = p.dir + "/lock";
  p.config = p.dir + "/config.json";
  return p;
}

std::string VmPaths::SerialLog(unsigned n) const {
  return n == 0 ? serial_log : serial_log + "." + std::to_string(n);
}

const char* ToString(VmRunState s) {
  switch (s) {
    case VmRunState::kStarting:
      return "starting";
    case VmRunState::kRunning:
      return "running";
    case VmRunState::kPaused:
      return "paused";
    case VmRunState::kStopping:
      return "stopping";
    case VmRunState::kStopped:
      return "stopped";
    case VmRunState::kCrashed:
      return "crashed";
  }
  return "?";
}

bool ParseRunState(const std::string& text, VmRunState* out) {
  for (VmRunState s : {VmRunState::kStarting, VmRunState::kRunning, VmRunState::kPaused,
                       VmRunState::kStopping, VmRunState::kStopped, VmRunState::kCrashed}) {
    if (text == ToString(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

Json VmState::ToJson() const {
  return Json{{"name", name},
              {"state", ToString(state)},
              {"supervisor_pid", supervisor_pid},
              {"qemu_pid", qemu_pid},
              {"started_at", started_at},
              {"ended_at", ended_at},
              {"accel", accel},
              {"reason", reason},
              {"last_stderr", last_stderr},
              {"config", config_source},
              {"user_netdevs", user_netdevs},
              {"agent", agent}};
}

Result<VmState> VmState::FromJson(const Json& j) {
  if (!j.is_object()) return Status::Error("state is not a JSON object");
  VmState s;
  s.name = j.value("name", "");
  if (!ParseRunState(j.value("state", ""), &s.state)) {
    return Status::Error("state: unknown run state " + j.value("state", ""));
  }
  s.supervisor_pid = j.value("supervisor_pid", 0);
  s.qemu_pid = j.value("qemu_pid", 0);
  s.started_at = j.value("started_at", int64_t{0});
  s.ended_at = j.value("ended_at", int64_t{0});
  s.accel = j.value("accel", "");
  s.reason = j.value("reason", "");
  s.config_source = j.value("config", "");
  s.agent = j.value("agent", false);
  if (auto it = j.find("last_stderr"); it != j.end() && it->is_array()) {
    for (const Json& line : *it) {
      if (line.is_string()) s.last_stderr.push_back(line.get<std::string>());
    }
  }
  if (auto it = j.find("user_netdevs"); it != j.end() && it->is_array()) {
    for (const Json& id : *it) {
      if (id.is_string()) s.user_netdevs.push_back(id.get<std::string>());
    }
  }
  return s;
}

Status WriteState(const std::string& path, const VmState& state) {
  std::string tmp = path + ".tmp";
  std::string text = state.ToJson().dump(2) + "\n";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::Errno("open " + tmp, errno);
  VMCAT_RETURN_IF_ERROR(WriteAll(fd.get(), text.data(), text.size()).Prefix("write " + tmp));
  fd.reset();
  if (rename(tmp.c_str(), path.c_str()) < 0) return Status::Errno("rename " + tmp, errno);
  return Status::Ok();
}

Result<VmState> ReadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Errno("open " + path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  Json j = Json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return Status::Error(path + ": not valid JSON");
  auto s = VmState::FromJson(j);
  if (!s.ok()) return s.status().Prefix(path);
  return s;
}

Result<DirLock> DirLock::Acquire(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::Errno("open " + path, errno);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) return Status::Error("another supervisor holds " + path);
    return Status::Errno("flock " + path, errno);
  }
  return DirLock(std::move(fd));
}

bool SupervisorAlive(const VmPaths& paths) {
  UniqueFd fd(open(paths.lock.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  if (flock(fd.get(), LOCK_SH | LOCK_NB) < 0) return errno == EWOULDBLOCK;
  flock(fd.get(), LOCK_UN);
  return false;
}

Status MakeRuntimeDir(const VmPaths& paths) {
  std::string root = paths.dir.substr(0, paths.dir.rfind('/'));
  for (const std::string& d : {root, paths.dir}) {
    if (mkdir(d.c_str(), 0700) < 0 && errno != EEXIST) return Status::Errno("mkdir " + d, errno);
  }
  struct stat st;
  if (stat(paths.dir.c_str(), &st) < 0) return Status::Errno("stat " + paths.dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::Error(paths.dir + " is not a directory");
  if (st.st_uid != geteuid()) {
    return Status::Error(paths.dir + " belongs to another user (uid " + std::to_string(st.st_uid) +
                         ")");
  }
  if ((st.st_mode & 0777) != 0700 && chmod(paths.dir.c_str(), 0700) < 0) {
    return Status::Errno("chmod " + paths.dir, errno);
  }
  return Status::Ok();
}

void RemoveRuntimeFiles(const VmPaths& p, bool keep_logs) {
  for (const std::string& f : {p.ctl, p.serial, p.monitor, p.lock, p.state + ".tmp"}) {
    unlink(f.c_str());
  }
  if (keep_logs) return;
  for (const std::string& f : {p.state, p.qemu_log, p.supervisor_log})
    unlink(f.c_str());
  for (unsigned n = 0; n < 100; ++n) {
    if (unlink(p.SerialLog(n).c_str()) < 0 && n > 0) break;
  }
  rmdir(p.dir.c_str());
}

std::vector<std::string> ListVmNames(const std::string& root) {
  std::vector<std::string> names;
  DIR* d = opendir(root.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (stat((root + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace vmcat

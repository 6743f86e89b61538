#include "vm/config.h"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "base/strings.h"

namespace vmcat {

namespace {

std::string Where(const std::string& file, const toml::node* node) {
  if (node != nullptr && node->source().begin.line > 0) {
    return file + ":" + std::to_string(node->source().begin.line);
  }
  return file;
}

Status KeyError(const std::string& file, const toml::node* node, std::string_view key,
                std::string_view reason) {
  return Status::Error(Where(file, node) + ": key " + Quote(key) + ": " + std::string(reason));
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

std::string DirName(const std::string& file) {
  size_t slash = file.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return file.substr(0, slash);
}

// Reads typed values, recording the first error.
class Reader {
 public:
  Reader(const std::string& file) : file_(file) {}
  Status status() const { return status_; }
  void Fail(const toml::node* node, std::string_view key, std::string_view reason) {
    if (status_.ok()) status_ = KeyError(file_, node, key, reason);
  }

  void String(const toml::table& t, std::string_view key, std::string* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    if (auto v = n->value<std::string>()) {
      *out = *v;
    } else {
      Fail(n, key, "expected a string");
    }
  }
  void Bool(const toml::table& t, std::string_view key, bool* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    if (auto v = n->value<bool>()) {
      *out = *v;
    } else {
      Fail(n, key, "expected true or false");
    }
  }
  void Unsigned(const toml::table& t, std::string_view key, uint64_t min, uint64_t max,
                unsigned* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    auto v = n->value<int64_t>();
    if (!v || *v < static_cast<int64_t>(min) || static_cast<uint64_t>(*v) > max) {
      Fail(n, key,
           "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
      return;
    }
    *out = static_cast<unsigned>(*v);
  }
  void Size(const toml::table& t, std::string_view key, uint64_t bare_unit, uint64_t* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    Result<uint64_t> r = Status::Error("");
    if (auto i = n->value<int64_t>()) {
      r = ParseSize(std::to_string(*i), bare_unit);
    } else if (auto s = n->value<std::string>()) {
      r = ParseSize(*s, bare_unit);
    } else {
      Fail(n, key, "expected a size such as \"512M\" or \"2G\"");
      return;
    }
    if (!r.ok()) return Fail(n, key, r.status().message());
    *out = *r;
  }
  void StringList(const toml::table& t, std::string_view key, std::vector<std::string>* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr) return Fail(n, key, "expected a list of strings");
    for (const toml::node& item : *a) {
      auto v = item.value<std::string>();
      if (!v) return Fail(&item, key, "expected a list of strings");
      out->push_back(*v);
    }
  }
  void CheckKeys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                 std::string_view section) {
    for (auto&& [k, v] : t) {
      bool known = false;
      for (std::string_view a : allowed)
        known = known || k.str() == a;
      if (!known) {
        std::string where = section.empty() ? "" : " in [" + std::string(section) + "]";
        Fail(&v, k.str(), "unknown key" + where);
      }
    }
  }

 private:
  const std::string& file_;
  Status status_;
};

}  // namespace

Status ValidateVmName(std::string_view name) {
  if (name.empty()) return Status::Error("VM name is empty");
  if (name.size() > 64) return Status::Error("VM name " + Quote(name) + " is longer than 64");
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '-' || c == '_' || c == '.'));
    if (!ok) {
      return Status::Error("VM name " + Quote(name) +
                           ": use letters, digits, '-', '_' and '.', starting with a letter or "
                           "digit");
    }
  }
  return Status::Ok();
}

Result<uint64_t> ParseSize(std::string_view text, uint64_t bare_unit) {
  std::string_view digits = text;
  uint64_t unit = bare_unit;
  if (!text.empty()) {
    char last = static_cast<char>(toupper(static_cast<unsigned char>(text.back())));
    std::string_view suffixes = "KMGT";
    size_t idx = suffixes.find(last);
    if (idx != std::string_view::npos) {
      unit = 1024ull << (10 * idx);
      digits.remove_suffix(1);
    } else if (last == 'B' && text.size() >= 2) {
      return ParseSize(text.substr(0, text.size() - 1), 1);
    }
  }
  auto n = ParseUnsigned(digits);
  if (!n || digits.empty() || (digits[0] == '0' && digits.size() > 1)) {
    return Status::Error("expected a size such as 512M or 2G, got " + Quote(text));
  }
  if (*n > (UINT64_MAX / unit)) return Status::Error("size " + Quote(text) + " is too large");
  return *n * unit;
}

Result<NetConfig> ParseNetFlag(std::string_view flag) {
  std::vector<std::string> parts = Split(flag, ',');
  NetConfig net;
  const std::string& type = parts[0];
  if (type == "user") {
    net.type = NetConfig::Type::kUser;
  } else if (type == "stream") {
    net.type = NetConfig::Type::kStream;
  } else if (type == "dgram") {
    net.type = NetConfig::Type::kDgram;
  } else {
    return Status::Error("--net " + Quote(flag) + ": type must be user, stream or dgram");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    size_t eq = parts[i].find('=');
    if (eq == std::string::npos) {
      return Status::Error("--net " + Quote(flag) + ": expected key=value, got " + Quote(parts[i]));
    }
    std::string key = parts[i].substr(0, eq), value = parts[i].substr(eq + 1);
    if (key == "hostfwd" && net.type == NetConfig::Type::kUser) {
      net.hostfwd.push_back(value);
    } else if (key == "path" && net.type == NetConfig::Type::kStream) {
      net.path = value;
    } else if (key == "server" && net.type == NetConfig::Type::kStream) {
      auto b = ParseBool(value);
      if (!b) return Status::Error("--net " + Quote(flag) + ": server must be on or off");
      net.server = *b;
    } else if (key == "local" && net.type == NetConfig::Type::kDgram) {
      net.local = value;
    } else if (key == "remote" && net.type == NetConfig::Type::kDgram) {
      net.remote = value;
    } else if (key == "mac") {
      net.mac = value;
    } else if (key == "model") {
      net.model = value;
    } else {
      return Status::Error("--net " + Quote(flag) + ": unknown key " + Quote(key) + " for " + type);
    }
  }
  return net;
}

Status FinishVmConfig(VmConfig* c) {
  VMCAT_RETURN_IF_ERROR(ValidateVmName(c->name));
  if (c->accel != "auto" && c->accel != "kvm" && c->accel != "tcg") {
    return Status::Error("accel must be auto, kvm or tcg, got " + Quote(c->accel));
  }
  if (c->kernel.empty() && c->disks.empty() && c->cdrom.empty()) {
    return Status::Error("nothing to boot: give a kernel, a disk or a cdrom");
  }
  if (c->kernel.empty() && (!c->initrd.empty() || !c->append.empty())) {
    return Status::Error("initrd and append need a kernel");
  }
  if (c->memory_mib < 16) return Status::Error("memory must be at least 16M");
  for (size_t i = 0; i < c->nets.size(); ++i) {
    NetConfig& n = c->nets[i];
    n.id = "net" + std::to_string(i);
    if (n.type == NetConfig::Type::kStream && n.path.empty()) {
      return Status::Error("net " + n.id + ": a stream network needs a path");
    }
    if (n.type == NetConfig::Type::kDgram && (n.local.empty() || n.remote.empty())) {
      return Status::Error("net " + n.id + ": a dgram network needs local and remote paths");
    }
    for (const std::string& rule : n.hostfwd) {
      if (rule.find('-') == std::string::npos || rule.find(':') == std::string::npos) {
        return Status::Error("net " + n.id + ": hostfwd " + Quote(rule) +
                             ": expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport");
      }
    }
  }
  for (DiskConfig& d : c->disks) {
    if (d.format.empty()) {
      d.format =
          d.path.size() > 6 && d.path.substr(d.path.size() - 6) == ".qcow2" ? "qcow2" : "raw";
    }
  }
  return Status::Ok();
}

Result<VmConfig> ParseVmConfig(std::string_view text, const std::string& file) {
  toml::parse_result parsed = toml::parse(text, file);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return Status::Error(file + ":" + std::to_string(e.source().begin.line) + ": " +
                         std::string(e.description()));
  }
  const toml::table& t = parsed.table();
  VmConfig c;
  c.source = file;
  std::string dir = DirName(file);
  Reader r(file);
  r.CheckKeys(t,
              {"name", "memory", "cpus", "accel", "machine", "qemu", "kernel", "initrd", "append",
               "disks", "disk", "cdrom", "net", "no_reboot", "extra_args", "serial", "agent"},
              "");
  r.String(t, "name", &c.name);
  uint64_t memory_bytes = c.memory_mib << 20;
  r.Size(t, "memory", 1 << 20, &memory_bytes);
  c.memory_mib = memory_bytes >> 20;
  r.Unsigned(t, "cpus", 1, 64, &c.cpus);
  r.String(t, "accel", &c.accel);
  r.String(t, "machine", &c.machine);
  r.String(t, "qemu", &c.qemu);
  r.String(t, "kernel", &c.kernel);
  r.String(t, "initrd", &c.initrd);
  r.String(t, "append", &c.append);
  r.String(t, "cdrom", &c.cdrom);
  r.Bool(t, "no_reboot", &c.no_reboot);
  r.StringList(t, "extra_args", &c.extra_args);
  std::vector<std::string> disk_paths;
  r.StringList(t, "disks", &disk_paths);
  for (const std::string& p : disk_paths) {
    DiskConfig d;
    d.path = p;
    c.disks.push_back(d);
  }
  if (const toml::node* n = t.get("disk")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      r.Fail(n, "disk", "expected [[disk]] tables");
    } else {
      for (const toml::node& item : *arr) {
        const toml::table& dt = *item.as_table();
        DiskConfig d;
        r.CheckKeys(dt, {"path", "format", "interface", "readonly"}, "disk");
        r.String(dt, "path", &d.path);
        r.String(dt, "format", &d.format);
        r.String(dt, "interface", &d.interface);
        r.Bool(dt, "readonly", &d.readonly);
        if (d.path.empty()) r.Fail(&item, "path", "every [[disk]] needs a path");
        c.disks.push_back(d);
      }
    }
  }
  if (const toml::node* n = t.get("net")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      r.Fail(n, "net", "expected [[net]] tables");
    } else {
      for (const toml::node& item : *arr) {
        const toml::table& nt = *item.as_table();
        NetConfig net;
        std::string type = "user";
        r.CheckKeys(nt, {"type", "hostfwd", "path", "server", "local", "remote", "mac", "model"},
                    "net");
        r.String(nt, "type", &type);
        if (type == "user") {
          net.type = NetConfig::Type::kUser;
        } else if (type == "stream") {
          net.type = NetConfig::Type::kStream;
        } else if (type == "dgram") {
          net.type = NetConfig::Type::kDgram;
        } else {
          r.Fail(nt.get("type"), "type", "expected \"user\", \"stream\" or \"dgram\"");
        }
        r.StringList(nt, "hostfwd", &net.hostfwd);
        r.String(nt, "path", &net.path);
        r.Bool(nt, "server", &net.server);
        r.String(nt, "local", &net.local);
        r.String(nt, "remote", &net.remote);
        r.String(nt, "mac", &net.mac);
        r.String(nt, "model", &net.model);
        net.path = Resolve(dir, net.path);
        net.local = Resolve(dir, net.local);
        net.remote = Resolve(dir, net.remote);
        c.nets.push_back(net);
      }
    }
  }
  if (const toml::node* n = t.get("serial")) {
    if (const toml::table* st = n->as_table()) {
      r.CheckKeys(*st, {"log_size", "log_files"}, "serial");
      r.Size(*st, "log_size", 1, &c.serial_log_size);
      r.Unsigned(*st, "log_files", 1, 100, &c.serial_log_files);
    } else {
      r.Fail(n, "serial", "expected a [serial] table");
    }
  }
  if (const toml::node* n = t.get("agent")) {
    if (const toml::table* at = n->as_table()) {
      r.CheckKeys(*at, {"enabled"}, "agent");
      c.agent = true;
      r.Bool(*at, "enabled", &c.agent);
    } else if (auto b = n->value<bool>()) {
      c.agent = *b;
    } else {
      r.Fail(n, "agent", "expected an [agent] table or true/false");
    }
  }
  VMCAT_RETURN_IF_ERROR(r.status());
  if (!t.contains("name")) return Status::Error(file + ": key \"name\" is missing");
  c.kernel = Resolve(dir, c.kernel);
  c.initrd = Resolve(dir, c.initrd);
  c.cdrom = Resolve(dir, c.cdrom);
  for (DiskConfig& d : c.disks)
    d.path = Resolve(dir, d.path);
  Status finished = FinishVmConfig(&c);
  if (!finished.ok()) return finished.Prefix(file);
  return c;
}

Result<VmConfig> LoadVmConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Errno("open " + path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseVmConfig(ss.str(), path);
}

Json VmConfigToJson(const VmConfig& c) {
  Json disks = Json::array(), nets = Json::array();
  for (const DiskConfig& d : c.disks) {
    disks.push_back({{"path", d.path},
                     {"format", d.format},
                     {"interface", d.interface},
                     {"readonly", d.readonly}});
  }
  for (const NetConfig& n : c.nets) {
    nets.push_back({{"type", static_cast<int>(n.type)},
                    {"id", n.id},
                    {"hostfwd", n.hostfwd},
                    {"path", n.path},
                    {"server", n.server},
                    {"local", n.local},
                    {"remote", n.remote},
                    {"mac", n.mac},
                    {"model", n.model}});
  }
  return Json{{"name", c.name},
              {"memory_mib", c.memory_mib},
              {"cpus", c.cpus},
              {"accel", c.accel},
              {"machine", c.machine},
              {"qemu", c.qemu},
              {"kernel", c.kernel},
              {"initrd", c.initrd},
              {"append", c.append},
              {"disks", disks},
              {"cdrom", c.cdrom},
              {"nets", nets},
              {"no_reboot", c.no_reboot},
              {"extra_args", c.extra_args},
              {"serial_log_size", c.serial_log_size},
              {"serial_log_files", c.serial_log_files},
              {"agent", c.agent},
              {"loadvm", c.loadvm},
              {"source", c.source}};
}

Result<VmConfig> VmConfigFromJson(const Json& j) {
  if (!j.is_object()) return Status::Error("VM definition is not a JSON object");
  VmConfig c;
  c.name = j.value("name", "");
  c.memory_mib = j.value("memory_mib", c.memory_mib);
  c.cpus = j.value("cpus", c.cpus);
  c.accel = j.value("accel", c.accel);
  c.machine = j.value("machine", "");
  c.qemu = j.value("qemu", c.qemu);
  c.kernel = j.value("kernel", "");
  c.initrd = j.value("initrd", "");
  c.append = j.value("append", "");
  c.cdrom = j.value("cdrom", "");
  c.no_reboot = j.value("no_reboot", false);
  c.extra_args = j.value("extra_args", std::vector<std::string>{});
  c.serial_log_size = j.value("serial_log_size", c.serial_log_size);
  c.serial_log_files = j.value("serial_log_files", c.serial_log_files);
  c.agent = j.value("agent", false);
  c.loadvm = j.value("loadvm", "");
  c.source = j.value("source", "");
  for (const Json& d : j.value("disks", Json::array())) {
    DiskConfig disk;
    disk.path = d.value("path", "");
    disk.format = d.value("format", "");
    disk.interface = d.value("interface", disk.interface);
    disk.readonly = d.value("readonly", false);
    c.disks.push_back(disk);
  }
  for (const Json& n : j.value("nets", Json::array())) {
    NetConfig net;
    net.type = static_cast<NetConfig::Type>(n.value("type", 0));
    net.id = n.value("id", "");
    net.hostfwd = n.value("hostfwd", std::vector<std::string>{});
    net.path = n.value("path", "");
    net.server = n.value("server", false);
    net.local = n.value("local", "");
    net.remote = n.value("remote", "");
    net.mac = n.value("mac", "");
    net.model = n.value("model", net.model);
    c.nets.push_back(net);
  }
  VMCAT_RETURN_IF_ERROR(FinishVmConfig(&c));
  return c;
}

Status CheckVmFiles(const VmConfig& c) {
  auto check = [](const std::string& what, const std::string& path) -> Status {
    if (path.empty()) return Status::Ok();
    if (access(path.c_str(), R_OK) != 0) return Status::Errno(what + " " + path, errno);
    return Status::Ok();
  };
  VMCAT_RETURN_IF_ERROR(check("kernel", c.kernel));
  VMCAT_RETURN_IF_ERROR(check("initrd", c.initrd));
  VMCAT_RETURN_IF_ERROR(check("cdrom", c.cdrom));
  for (const DiskConfig& d : c.disks)
    VMCAT_RETURN_IF_ERROR(check("disk", d.path));
  return Status::Ok();
}

}  // namespace vmcat

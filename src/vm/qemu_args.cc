#include "vm/qemu_args.h"

#include <sstream>

namespace vmcat {

namespace {

// QEMU option values escape ',' by doubling it.
std::string EscapeComma(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

}  // namespace

std::string ResolveAccel(const std::string& wanted, const std::string& cpuinfo,
                         bool kvm_device_usable) {
  if (wanted != "auto") return wanted;
  std::istringstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string flag;
    while (words >> flag) {
      if ((flag == "vmx" || flag == "svm") && kvm_device_usable) return "kvm";
    }
    break;  // every CPU lists the same flags
  }
  return "tcg";
}

std::vector<std::string> BuildQemuArgs(const VmConfig& c, const std::string& accel,
                                       const QemuFds& fds) {
  std::vector<std::string> a = {c.qemu,
                                "-name",
                                c.name + ",debug-threads=on",
                                "-nodefaults",
                                "-no-user-config",
                                "-display",
                                "none",
                                "-accel",
                                accel,
                                "-m",
                                std::to_string(c.memory_mib) + "M",
                                "-smp",
                                std::to_string(c.cpus)};
  if (!c.machine.empty()) {
    a.insert(a.end(), {"-machine", c.machine});
  }
  if (accel == "kvm") a.insert(a.end(), {"-cpu", "host"});
  a.insert(a.end(), {"-chardev", "socket,id=vmcat-qmp,fd=" + std::to_string(fds.qmp), "-mon",
                     "chardev=vmcat-qmp,mode=control"});
  a.insert(a.end(), {"-chardev", "socket,id=vmcat-serial,fd=" + std::to_string(fds.serial),
                     "-serial", "chardev:vmcat-serial"});
  if (!c.kernel.empty()) a.insert(a.end(), {"-kernel", c.kernel});
  if (!c.initrd.empty()) a.insert(a.end(), {"-initrd", c.initrd});
  if (!c.append.empty()) a.insert(a.end(), {"-append", c.append});
  for (size_t i = 0; i < c.disks.size(); ++i) {
    const DiskConfig& d = c.disks[i];
    std::string drive = "file=" + EscapeComma(d.path) + ",format=" + d.format +
                        ",if=" + d.interface + ",id=disk" + std::to_string(i);
    if (d.readonly) drive += ",readonly=on";
    a.insert(a.end(), {"-drive", drive});
  }
  if (!c.cdrom.empty()) {
    a.insert(a.end(), {"-drive", "file=" + EscapeComma(c.cdrom) + ",media=cdrom,readonly=on"});
  }
  for (const NetConfig& n : c.nets) {
    std::string netdev;
    switch (n.type) {
      case NetConfig::Type::kUser:
        netdev = "user,id=" + n.id;
        for (const std::string& rule : n.hostfwd)
          netdev += ",hostfwd=" + rule;
        break;
      case NetConfig::Type::kStream:
        netdev = "stream,id=" + n.id + ",server=" + (n.server ? "on" : "off") +
                 ",addr.type=unix,addr.path=" + EscapeComma(n.path);
        break;
      case NetConfig::Type::kDgram:
        netdev = "dgram,id=" + n.id + ",local.type=unix,local.path=" + EscapeComma(n.local) +
                 ",remote.type=unix,remote.path=" + EscapeComma(n.remote);
        break;
    }
    std::string device = n.model + ",netdev=" + n.id;
    if (!n.mac.empty()) device += ",mac=" + n.mac;
    a.insert(a.end(), {"-netdev", netdev, "-device", device});
  }
  if (c.agent && fds.agent >= 0) {
    a.insert(a.end(), {"-device", "virtio-serial-pci,id=vmcat-vser", "-chardev",
                       "socket,id=vmcat-agent,fd=" + std::to_string(fds.agent), "-device",
                       std::string("virtserialport,bus=vmcat-vser.0,chardev=vmcat-agent,id=") +
                           kAgentPortId + ",name=" + kAgentPortName});
  }
  if (c.no_reboot) a.push_back("-no-reboot");
  if (!c.loadvm.empty()) a.insert(a.end(), {"-loadvm", c.loadvm});
  a.insert(a.end(), c.extra_args.begin(), c.extra_args.end());
  return a;
}

}  // namespace vmcat

#include "vm/qemu_args.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace vmcat {
namespace {

bool HasPair(const std::vector<std::string>& args, const std::string& flag,
             const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag && args[i + 1] == value) return true;
  }
  return false;
}

VmConfig Example() {
  VmConfig c;
  c.name = "web1";
  c.memory_mib = 512;
  c.cpus = 2;
  c.kernel = "/k";
  c.initrd = "/i";
  c.append = "console=ttyS0 quiet";
  DiskConfig d;
  d.path = "/vm/disk,1.qcow2";
  d.format = "qcow2";
  c.disks.push_back(d);
  NetConfig user;
  user.id = "net0";
  user.hostfwd = {"tcp::10022-:22"};
  NetConfig stream;
  stream.type = NetConfig::Type::kStream;
  stream.id = "net1";
  stream.path = "/run/sw.sock";
  stream.mac = "52:54:00:00:00:02";
  c.nets = {user, stream};
  return c;
}

TEST(QemuArgsTest, HeadlessWithSupervisorOwnedQmpAndSerial) {
  QemuFds fds{3, 4, -1};
  auto a = BuildQemuArgs(Example(), "tcg", fds);
  EXPECT_EQ(a[0], "qemu-system-x86_64");
  EXPECT_TRUE(HasPair(a, "-display", "none"));
  EXPECT_TRUE(HasPair(a, "-accel", "tcg"));
  EXPECT_TRUE(HasPair(a, "-m", "512M"));
  EXPECT_TRUE(HasPair(a, "-smp", "2"));
  EXPECT_TRUE(HasPair(a, "-chardev", "socket,id=vmcat-qmp,fd=3"));
  EXPECT_TRUE(HasPair(a, "-mon", "chardev=vmcat-qmp,mode=control"));
  EXPECT_TRUE(HasPair(a, "-chardev", "socket,id=vmcat-serial,fd=4"));
  EXPECT_TRUE(HasPair(a, "-serial", "chardev:vmcat-serial"));
  EXPECT_TRUE(HasPair(a, "-append", "console=ttyS0 quiet"));
  // Commas in paths are doubled, as QEMU's option parser requires.
  EXPECT_TRUE(HasPair(a, "-drive", "file=/vm/disk,,1.qcow2,format=qcow2,if=virtio,id=disk0"));
  EXPECT_TRUE(HasPair(a, "-netdev", "user,id=net0,hostfwd=tcp::10022-:22"));
  EXPECT_TRUE(HasPair(a, "-device", "virtio-net-pci,netdev=net0"));
  EXPECT_TRUE(
      HasPair(a, "-netdev", "stream,id=net1,server=off,addr.type=unix,addr.path=/run/sw.sock"));
  EXPECT_TRUE(HasPair(a, "-device", "virtio-net-pci,netdev=net1,mac=52:54:00:00:00:02"));
  EXPECT_EQ(std::count(a.begin(), a.end(), "-cpu"), 0);
}

TEST(QemuArgsTest, AgentLoadvmAndExtraArgs) {
  VmConfig c = Example();
  c.agent = true;
  c.loadvm = "snap1";
  c.extra_args = {"-rtc", "base=utc"};
  auto a = BuildQemuArgs(c, "kvm", QemuFds{3, 4, 5});
  EXPECT_TRUE(HasPair(a, "-chardev", "socket,id=vmcat-agent,fd=5"));
  EXPECT_TRUE(HasPair(a, "-device",
                      "virtserialport,bus=vmcat-vser.0,chardev=vmcat-agent,id=vmcat-agent-port,"
                      "name=org.vmcat.agent.0"));
  EXPECT_TRUE(HasPair(a, "-loadvm", "snap1"));
  EXPECT_TRUE(HasPair(a, "-cpu", "host"));
  EXPECT_EQ(a[a.size() - 2], "-rtc");
}

TEST(ResolveAccelTest, KvmOnlyWithVirtualisationFlagsAndDevice) {
  const std::string with_vmx = "processor : 0\nflags : fpu vme vmx sse\n";
  const std::string without = "processor : 0\nflags : fpu vme sse\n";
  EXPECT_EQ(ResolveAccel("auto", with_vmx, true), "kvm");
  EXPECT_EQ(ResolveAccel("auto", with_vmx, false), "tcg");
  EXPECT_EQ(ResolveAccel("auto", without, true), "tcg");  // this machine: /dev/kvm but no vmx
  EXPECT_EQ(ResolveAccel("tcg", with_vmx, true), "tcg");
  EXPECT_EQ(ResolveAccel("kvm", without, false), "kvm");
}

}  // namespace
}  // namespace vmcat

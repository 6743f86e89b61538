#include "vm/config.h"

#include <gtest/gtest.h>

namespace vmcat {
namespace {

constexpr char kExample[] = R"(
name = "web1"
memory = "512M"
cpus = 2
kernel = "vmlinuz"
initrd = "/abs/initramfs.cpio.gz"
append = "console=ttyS0"
disks = ["disk.qcow2"]

[[net]]
type = "user"
hostfwd = ["tcp::10022-:22"]

[[net]]
type = "stream"
path = "/run/switch.sock"

[serial]
log_size = "64K"

[agent]
enabled = true
)";

TEST(VmConfigTest, ParsesTheReadmeExample) {
  auto r = ParseVmConfig(kExample, "/etc/vms/web1.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const VmConfig& c = *r;
  EXPECT_EQ(c.name, "web1");
  EXPECT_EQ(c.memory_mib, 512u);
  EXPECT_EQ(c.cpus, 2u);
  EXPECT_EQ(c.kernel, "/etc/vms/vmlinuz");  // relative to the file
  EXPECT_EQ(c.initrd, "/abs/initramfs.cpio.gz");
  ASSERT_EQ(c.disks.size(), 1u);
  EXPECT_EQ(c.disks[0].path, "/etc/vms/disk.qcow2");
  EXPECT_EQ(c.disks[0].format, "qcow2");
  ASSERT_EQ(c.nets.size(), 2u);
  EXPECT_EQ(c.nets[0].id, "net0");
  EXPECT_EQ(c.nets[0].hostfwd, std::vector<std::string>{"tcp::10022-:22"});
  EXPECT_EQ(c.nets[1].type, NetConfig::Type::kStream);
  EXPECT_EQ(c.nets[1].path, "/run/switch.sock");
  EXPECT_EQ(c.serial_log_size, 65536u);
  EXPECT_TRUE(c.agent);
}

TEST(VmConfigTest, JsonRoundTrip) {
  auto r = ParseVmConfig(kExample, "/etc/vms/web1.toml");
  ASSERT_TRUE(r.ok());
  auto back = VmConfigFromJson(VmConfigToJson(*r));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(VmConfigToJson(*back), VmConfigToJson(*r));
  EXPECT_EQ(back->nets[1].path, "/run/switch.sock");
}

TEST(VmConfigTest, DefaultsWhenKeysAreAbsent) {
  auto r = ParseVmConfig("name = \"a\"\nkernel = \"/k\"\n", "a.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->memory_mib, 256u);
  EXPECT_EQ(r->cpus, 1u);
  EXPECT_EQ(r->accel, "auto");
  EXPECT_FALSE(r->agent);
}

std::string ErrorOf(const char* text) {
  auto r = ParseVmConfig(text, "vm.toml");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(VmConfigTest, ErrorsNameFileLineKeyAndReason) {
  EXPECT_EQ(ErrorOf("name = \"a\"\nkernel = \"/k\"\nmemroy = \"1G\"\n"),
            "vm.toml:3: key \"memroy\": unknown key");
  EXPECT_EQ(ErrorOf("name = \"a\"\nkernel = \"/k\"\nmemory = \"lots\"\n"),
            "vm.toml:3: key \"memory\": expected a size such as 512M or 2G, got \"lots\"");
  EXPECT_EQ(ErrorOf("name = \"a\"\nkernel = \"/k\"\ncpus = 0\n"),
            "vm.toml:3: key \"cpus\": expected a whole number from 1 to 64");
  EXPECT_EQ(ErrorOf("name = \"a b\"\nkernel = \"/k\"\n"),
            "vm.toml: VM name \"a b\": use letters, digits, '-', '_' and '.', starting with a "
            "letter or digit");
  EXPECT_EQ(ErrorOf("name = \"a\"\n"),
            "vm.toml: nothing to boot: give a kernel, a disk or a cdrom");
  EXPECT_EQ(ErrorOf("kernel = \"/k\"\n"), "vm.toml: key \"name\" is missing");
  EXPECT_EQ(ErrorOf("name = \"a\"\nkernel = \"/k\"\n[[net]]\ntype = \"tap\"\n"),
            "vm.toml:4: key \"type\": expected \"user\", \"stream\" or \"dgram\"");
  std::string syntax = ErrorOf("name = \"a\nkernel = 1\n");
  EXPECT_EQ(syntax.rfind("vm.toml:1: ", 0), 0u) << syntax;
}

TEST(NetFlagTest, ParsesTheThreeKinds) {
  auto u = ParseNetFlag("user,hostfwd=tcp::10022-:22,hostfwd=udp::5353-:53");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->hostfwd.size(), 2u);
  auto s = ParseNetFlag("stream,path=/run/sw.sock,mac=52:54:00:00:00:01");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->path, "/run/sw.sock");
  EXPECT_EQ(s->mac, "52:54:00:00:00:01");
  auto d = ParseNetFlag("dgram,local=/a,remote=/b");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->remote, "/b");
  EXPECT_EQ(ParseNetFlag("tap").status().message(),
            "--net \"tap\": type must be user, stream or dgram");
  EXPECT_EQ(ParseNetFlag("user,path=/x").status().message(),
            "--net \"user,path=/x\": unknown key \"path\" for user");
}

TEST(SizeTest, Units) {
  EXPECT_EQ(*ParseSize("512", 1 << 20), 512u << 20);
  EXPECT_EQ(*ParseSize("2G", 1), 2ull << 30);
  EXPECT_EQ(*ParseSize("64k", 1), 65536u);
  EXPECT_EQ(*ParseSize("100B", 1 << 20), 100u);
  EXPECT_FALSE(ParseSize("", 1).ok());
  EXPECT_FALSE(ParseSize("-1", 1).ok());
  EXPECT_FALSE(ParseSize("1X", 1).ok());
}

}  // namespace
}  // namespace vmcat

// `vmcat up`: start a VM headless in the background under its supervisor.
#include <cstdio>

#include "cli/command.h"
#include "cli/vm_cli.h"
#include "vm/config.h"
#include "vm/launcher.h"

namespace vmcat {
namespace {

int UpMain(int argc, char** argv) {
  FlagSet flags("vmcat up [FILE.toml] [options] [-- QEMU-ARGS...]",
                "Starts a VM headless in the background and returns once QEMU runs and QMP\n"
                "answers. Without FILE, the VM is described by the options.");
  std::string name, kernel, initrd, append, mem, cdrom, accel, loadvm, runtime_dir, machine;
  std::vector<std::string> disks, nets;
  unsigned cpus = 0;
  bool agent = false, no_reboot = false;
  flags.String("--name", &name, "NAME", "the VM's name");
  flags.String("--kernel", &kernel, "FILE", "Linux kernel to boot");
  flags.String("--initrd", &initrd, "FILE", "initramfs");
  flags.String("--append", &append, "CMDLINE", "kernel command line");
  flags.String("--mem", &mem, "SIZE", "memory, e.g. 512M or 2G (default 256M)");
  flags.Unsigned("--cpus", &cpus, "N", "virtual CPUs (default 1)");
  flags.Strings("--disk", &disks, "FILE", "disk image (qcow2 or raw); repeatable");
  flags.String("--cdrom", &cdrom, "ISO", "CD-ROM image");
  flags.Strings("--net", &nets, "SPEC",
                "user[,hostfwd=tcp::HP-:GP]... | stream,path=SOCK | dgram,local=A,remote=B");
  flags.String("--accel", &accel, "auto|kvm|tcg", "accelerator (default auto)");
  flags.String("--machine", &machine, "TYPE", "QEMU machine type");
  flags.Bool("--agent", &agent, "add the guest agent channel (for vmcat exec/cp)");
  flags.Bool("--no-reboot", &no_reboot, "a guest reboot ends the VM");
  flags.String("--loadvm", &loadvm, "TAG", "start from an internal snapshot");
  AddRuntimeDirFlag(&flags, &runtime_dir);
  std::vector<std::string> positional, extra;
  int rc = ParseCommandLine(&flags, argc, argv, 0, 1, &positional, &extra);
  if (rc >= 0) return rc;

  VmConfig config;
  if (!positional.empty()) {
    auto loaded = LoadVmConfig(positional[0]);
    if (!loaded.ok()) return Fail(loaded.status());
    config = std::move(loaded).value();
    if (!name.empty()) config.name = name;
  } else {
    config.name = name;
    if (name.empty()) return Fail("give a definition FILE or --name (see vmcat up --help)");
  }
  if (!kernel.empty()) config.kernel = AbsolutePath(kernel);
  if (!initrd.empty()) config.initrd = AbsolutePath(initrd);
  if (!append.empty()) config.append = append;
  if (!cdrom.empty()) config.cdrom = AbsolutePath(cdrom);
  if (!accel.empty()) config.accel = accel;
  if (!machine.empty()) config.machine = machine;
  if (cpus > 0) config.cpus = cpus;
  if (agent) config.agent = true;
  if (no_reboot) config.no_reboot = true;
  if (!loadvm.empty()) config.loadvm = loadvm;
  if (!mem.empty()) {
    auto size = ParseSize(mem, 1 << 20);
    if (!size.ok()) return Fail("--mem: " + size.status().message());
    config.memory_mib = *size >> 20;
  }
  for (const std::string& d : disks) {
    DiskConfig disk;
    disk.path = AbsolutePath(d);
    config.disks.push_back(disk);
  }
  for (const std::string& n : nets) {
    auto net = ParseNetFlag(n);
    if (!net.ok()) return Fail(net.status());
    if (net->type == NetConfig::Type::kStream) net->path = AbsolutePath(net->path);
    if (net->type == NetConfig::Type::kDgram) {
      net->local = AbsolutePath(net->local);
      net->remote = AbsolutePath(net->remote);
    }
    config.nets.push_back(*net);
  }
  config.extra_args.insert(config.extra_args.end(), extra.begin(), extra.end());
  if (config.agent && !config.kernel.empty() &&
      config.append.find("vmcat.agent=") == std::string::npos) {
    // Tells an image built by images/build-image.sh to start the agent.
    config.append += std::string(config.append.empty() ? "" : " ") + "vmcat.agent=1";
  }
  Status finished = FinishVmConfig(&config);
  if (!finished.ok()) return Fail(finished);

  std::string root = RuntimeRoot(runtime_dir);
  auto state = LaunchVm(config, root);
  if (!state.ok()) return Fail(state.status().Prefix("up " + config.name));
  VmPaths paths = VmPaths::For(root, config.name);
  std::printf("%s is %s (accel %s, QEMU pid %d, supervisor pid %d)\n", config.name.c_str(),
              ToString(state->state), state->accel.c_str(), state->qemu_pid, state->supervisor_pid);
  std::printf("  console  vmcat console %s\n", config.name.c_str());
  std::printf("  serial   %s\n", paths.serial.c_str());
  std::printf("  monitor  %s\n", paths.monitor.c_str());
  std::printf("  control  %s\n", paths.ctl.c_str());
  std::printf("  logs     %s\n", paths.serial_log.c_str());
  return 0;
}

}  // namespace

extern const Command kUpCommand = {"up", "start a VM headless in the background", UpMain};

}  // namespace vmcat

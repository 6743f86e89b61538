// VmConfig: what a VM is, from a TOML definition file or from `vmcat up`
// flags. Pure parsing and validation; checking that files exist is separate
// (CheckFiles) because it touches the filesystem.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "qmp/qmp_codec.h"

namespace vmcat {

struct NetConfig {
  enum class Type { kUser, kStream, kDgram };
  Type type = Type::kUser;
  std::string id;                    // netdev id: net0, net1, ...
  std::vector<std::string> hostfwd;  // user: "tcp::10022-:22"
  std::string path;                  // stream: UNIX socket to connect to (or serve)
  bool server = false;               // stream: QEMU listens on `path`
  std::string local, remote;         // dgram: UNIX datagram socket paths
  std::string mac;
  std::string model = "virtio-net-pci";
};

struct DiskConfig {
  std::string path;
  std::string format;  // qcow2, raw; empty: guessed from the extension
  std::string interface = "virtio";
  bool readonly = false;
};

struct VmConfig {
  std::string name;
  uint64_t memory_mib = 256;
  unsigned cpus = 1;
  std::string accel = "auto";  // auto, kvm, tcg
  std::string machine;         // empty: QEMU's default
  std::string qemu = "qemu-system-x86_64";
  std::string kernel, initrd, append;
  std::vector<DiskConfig> disks;
  std::string cdrom;
  std::vector<NetConfig> nets;
  bool no_reboot = false;
  std::vector<std::string> extra_args;
  uint64_t serial_log_size = 1 << 20;  // bytes per log file before rotation
  unsigned serial_log_files = 2;       // serial.log plus rotated ones
  bool agent = false;                  // add the guest agent channel (virtio-serial)
  std::string loadvm;                  // start from this internal snapshot
  std::string source;                  // definition file, for messages
};

/// Parses a TOML definition. Errors read "FILE:LINE: key \"k\": reason".
/// Relative paths are resolved against the file's directory.
Result<VmConfig> ParseVmConfig(std::string_view toml_text, const std::string& file_name);
Result<VmConfig> LoadVmConfig(const std::string& path);

/// Parses a --net flag: "user[,hostfwd=R]...", "stream,path=P[,server=on]",
/// "dgram,local=L,remote=R", each optionally with ",mac=M,model=D".
Result<NetConfig> ParseNetFlag(std::string_view flag);

/// Parses sizes such as "512M", "2G", "1048576" (bytes unless suffixed; for
/// memory a bare number means MiB, as in QEMU's -m).
Result<uint64_t> ParseSize(std::string_view text, uint64_t bare_unit);

/// VM names: 1-64 of [A-Za-z0-9_.-], starting with a letter or digit.
Status ValidateVmName(std::string_view name);

/// Gives nets their ids and checks the whole definition for consistency.
Status FinishVmConfig(VmConfig* config);

/// The supervisor receives its definition as JSON in the runtime directory.
Json VmConfigToJson(const VmConfig& config);
Result<VmConfig> VmConfigFromJson(const Json& j);

/// Checks that kernel, initrd, disks and cdrom exist and are readable.
Status CheckVmFiles(const VmConfig& config);

}  // namespace vmcat

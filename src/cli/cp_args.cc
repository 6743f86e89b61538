#include "cli/cp_args.h"

#include <optional>

#include "base/strings.h"
#include "vm/config.h"

namespace vmcat {

namespace {

struct Operand {
  bool remote = false;
  std::string vm;
  std::string path;
};

Operand Classify(const std::string& arg, bool vsock) {
  if (vsock) {
    if (!arg.empty() && arg[0] == ':') return Operand{true, "", arg.substr(1)};
    return Operand{false, "", arg};
  }
  size_t colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return Operand{false, "", arg};
  std::string name = arg.substr(0, colon);
  if (name.find('/') != std::string::npos || name[0] == '.' || !ValidateVmName(name).ok()) {
    return Operand{false, "", arg};
  }
  return Operand{true, name, arg.substr(colon + 1)};
}

}  // namespace

Result<CopyOperands> ParseCopyOperands(const std::vector<std::string>& operands, bool vsock) {
  if (operands.size() < 2) return Status::Error("give at least one SRC and a DEST");
  std::vector<Operand> ops;
  bool any_remote = false;
  for (const std::string& arg : operands) {
    if (arg.empty()) return Status::Error("empty path");
    Operand op = Classify(arg, vsock);
    if (op.remote && (op.path.empty() || op.path[0] != '/')) {
      return Status::Error(Quote(arg) + ": guest paths must be absolute (" +
                           (vsock ? ":/path" : "NAME:/path") + ")");
    }
    any_remote = any_remote || op.remote;
    ops.push_back(std::move(op));
  }
  if (!any_remote) {
    return Status::Error(vsock ? "no guest path: write guest paths as :/path with --vsock"
                               : "no guest path: write guest paths as NAME:/path");
  }
  CopyOperands out;
  const Operand& dest = ops.back();
  out.into_guest = dest.remote;
  std::optional<std::string> vm;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Operand& op = ops[i];
    bool is_dest = i + 1 == ops.size();
    if (!is_dest && op.remote == dest.remote) {
      return Status::Error(
          "exactly one side must be in the guest: copy local files to NAME:/path, or NAME:/path "
          "to a local path");
    }
    if (op.remote) {
      if (vm && *vm != op.vm) {
        return Status::Error("all guest paths must be in the same VM (" + *vm + ", " + op.vm + ")");
      }
      vm = op.vm;
    }
    if (is_dest) {
      out.dest = op.path;
    } else {
      out.sources.push_back(op.path);
    }
  }
  out.vm = vm.value_or("");
  return out;
}

}  // namespace vmcat

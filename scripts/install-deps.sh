#!/usr/bin/env bash
# Installs the Debian 12 packages vmcat needs to build, test, benchmark and run
# its demo. Idempotent: installs only what is missing, and runs `apt-get update`
# only when something is. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ clang libclang-rt-14-dev libgtest-dev libgmock-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev pkg-config
  # tests and demo: real peers, a real terminal, a real hypervisor
  python3 python3-pytest python3-pytest-timeout socat tmux tshark netcat-openbsd procps psmisc
  qemu-system-x86 qemu-utils busybox-static cpio xz-utils zstd kmod
  # benchmarks
  hyperfine
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

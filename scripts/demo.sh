#!/usr/bin/env bash
# The demo command: installs what is missing, builds vmcat and the tiny test
# guest, then runs a VM in the background and shows the tool on it: ls, exec,
# monitor, cp in and out, logs, the socat-style relay, and stop.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh release >/dev/null
IMAGE=$(./images/build-image.sh -q)
V="$PWD/build/vmcat"
export VMCAT_RUNTIME_DIR
VMCAT_RUNTIME_DIR=$(mktemp -d /tmp/vmcat-demo-XXXXXX)
WORK=$(mktemp -d /tmp/vmcat-demo-files-XXXXXX)
cleanup() {
  "$V" stop --force demo >/dev/null 2>&1 || true
  rm -rf "$VMCAT_RUNTIME_DIR" "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

echo "vmcat demo: a tiny Debian-kernel guest under QEMU (TCG), run in the background."
run "$V" up --name demo --agent --mem 256M --kernel "$IMAGE/vmlinuz" \
  --initrd "$IMAGE/initramfs.cpio.gz" --append "console=ttyS0 quiet" --net user
run "$V" ls
run "$V" wait demo --timeout 120
run "$V" exec demo -- uname -sr
step "$V exec demo -- sh -c 'echo to stdout; echo to stderr >&2; exit 3'"
set +e
"$V" exec demo -- sh -c 'echo to stdout; echo to stderr >&2; exit 3'
echo "(exit status $?)"
set -e
run "$V" monitor demo info status
run "$V" qmp demo query-status
printf 'hello from the host\n' >"$WORK/greeting.txt"
run "$V" cp "$WORK/greeting.txt" demo:/tmp/
run "$V" exec demo -- cat /tmp/greeting.txt
run "$V" cp demo:/etc/hostname "$WORK/hostname-from-guest"
run cat "$WORK/hostname-from-guest"
step "$V logs demo | grep -a vmcat-guest"
"$V" logs demo | grep -a vmcat-guest
step "echo 'info name' | $V relay - UNIX-CONNECT:\$VMCAT_RUNTIME_DIR/demo/monitor.sock"
echo 'info name' | "$V" relay - "UNIX-CONNECT:$VMCAT_RUNTIME_DIR/demo/monitor.sock"
echo
run "$V" stop demo
run "$V" ls
echo
echo "Done. Next: vmcat console NAME (Ctrl-] detaches), vmcat shell NAME, vmcat --help."

#!/usr/bin/env bash
# Builds the tiny vmcat test guest: a Debian 12 cloud kernel (vmlinuz) plus a
# busybox initramfs (initramfs.cpio.gz) with the virtio/vsock modules, the
# /init in images/rootfs/ and optionally a static vmcat binary.
#
# Usage: images/build-image.sh [--out DIR] [--vmcat PATH | --no-vmcat] [--with-qemu-ga] [--force] [-q]
#   --out DIR     output directory (default: $VMCAT_IMAGE_DIR or <repo>/build/image;
#                 with --with-qemu-ga the same path plus "-qga")
#   --vmcat PATH  copy this statically linked vmcat into the image as /usr/bin/vmcat
#                 (default: <repo>/build/vmcat, the static release build, if it exists)
#   --no-vmcat    never include vmcat
#   --with-qemu-ga  variant that also runs Debian's qemu-guest-agent (qemu-ga from the
#                 .deb, fetched with apt-get download, not installed, plus the shared
#                 libraries and loader it needs, copied from this host) on the
#                 virtio-serial port org.qemu.guest_agent.0 when the VM has one
#   --force       rebuild even if the cached image is up to date
#   -q            no progress messages
# Environment: VMCAT_IMAGE_DIR (output), VMCAT_IMAGE_CACHE (downloads and
# extracted kernels; default <repo>/build/image-cache).
#
# The output holds vmlinuz, initramfs.cpio.gz and manifest.txt. It is rebuilt
# only when an input changed: kernel package version, busybox, the files under
# images/rootfs/, the vmcat binary, or this script. On success the output
# directory is printed on stdout. Needs root for apt-get download/update (the
# kernel .deb is only extracted, never installed) and for /dev/console in the
# archive.
set -euo pipefail
umask 022

SELF=$(readlink -f "${BASH_SOURCE[0]}")
IMAGES=$(dirname "$SELF")
REPO=$(dirname "$IMAGES")
ROOTFS=$IMAGES/rootfs

OUT=${VMCAT_IMAGE_DIR:-$REPO/build/image}
CACHE=${VMCAT_IMAGE_CACHE:-$REPO/build/image-cache}
KERNEL_META=linux-image-cloud-amd64
BUSYBOX=/bin/busybox
BUSYBOX_PKG=busybox-static
VMCAT_AUTO=$REPO/build/vmcat
VMCAT_MODE=auto VMCAT_SRC='' FORCE=0 QUIET=0
OUT_GIVEN=0 QGA=0
QGA_PKG=qemu-guest-agent

# Modules loaded by /init, in this order (their modules.dep dependencies are
# added ahead of them). Built-in or absent ones are skipped.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  failover net_failover virtio_net virtio_console virtio_blk
  vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport vsock_loopback
  # ACPI power button as an input device, for acpid (QEMU system_powerdown).
  button evdev)

msg() { [ "$QUIET" = 1 ] || echo "build-image: $*" >&2; }
die() { echo "build-image: error: $*" >&2; exit 1; }
usage() { sed -n '/^# Usage:/,/^# archive\.$/s/^# \{0,1\}//p' "$SELF"; }

while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2 OUT_GIVEN=1; shift 2 ;;
    --out=*) OUT=${1#*=} OUT_GIVEN=1; shift ;;
    --vmcat) [ $# -ge 2 ] || die "--vmcat needs a path"; VMCAT_MODE=path VMCAT_SRC=$2; shift 2 ;;
    --vmcat=*) VMCAT_MODE=path VMCAT_SRC=${1#*=}; shift ;;
    --no-vmcat) VMCAT_MODE=none; shift ;;
    --with-qemu-ga) QGA=1; shift ;;
    --force) FORCE=1; shift ;;
    -q | --quiet) QUIET=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[ "$QGA" = 1 ] && [ "$OUT_GIVEN" = 0 ] && OUT=${OUT%/}-qga
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
case $CACHE in /*) ;; *) CACHE=$PWD/$CACHE ;; esac

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# --- inputs ------------------------------------------------------------------
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing: apt-get install $BUSYBOX_PKG"
BUSYBOX_VER=$(dpkg-query -W -f '${Version}' "$BUSYBOX_PKG" 2>/dev/null) ||
  die "package $BUSYBOX_PKG is not installed: apt-get install $BUSYBOX_PKG"
BUSYBOX_SUM=$(sha256 "$BUSYBOX")

case $VMCAT_MODE in
  auto) [ -f "$VMCAT_AUTO" ] && VMCAT_SRC=$VMCAT_AUTO ;;
  path) [ -f "$VMCAT_SRC" ] || die "--vmcat $VMCAT_SRC: no such file" ;;
esac
VMCAT_SUM=none
if [ -n "$VMCAT_SRC" ]; then
  VMCAT_SRC=$(readlink -f "$VMCAT_SRC")
  if command -v readelf >/dev/null &&
    readelf -lW "$VMCAT_SRC" 2>/dev/null | grep -q 'program interpreter'; then
    die "$VMCAT_SRC is dynamically linked; build a static one (scripts/build.sh static)"
  fi
  VMCAT_SUM=$(sha256 "$VMCAT_SRC")
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

APT_OPTS=()
[ "$(id -u)" = 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)
APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" = 0 ] || return 1
  APT_UPDATED=1
  msg "running apt-get update"
  apt-get "${APT_OPTS[@]}" -qq update >&2 || die "apt-get update failed"
}

# Resolve the kernel package the metapackage depends on. apt-cache takes ~1 s
# here (no pkgcache.bin), so remember the answer for as long as the package
# lists are unchanged.
lists_stamp() {
  { echo "${1:-$KERNEL_META}"; stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* 2>/dev/null; } |
    sha256sum | cut -d' ' -f1
}
resolve_kernel() {
  local stamp line dep
  stamp=$(lists_stamp)
  if [ "${1:-}" != fresh ] && [ -r "$CACHE/kernel-resolved" ]; then
    read -r line KERNEL_PKG KERNEL_VER <"$CACHE/kernel-resolved" || true
    [ "$line" = "$stamp" ] && [ -n "${KERNEL_VER:-}" ] && return 0
  fi
  KERNEL_PKG='' KERNEL_VER=''
  dep=$(apt-cache show --no-all-versions "$KERNEL_META" 2>/dev/null | sed -n 's/^Depends: //p' | head -n1)
  if [ -z "$dep" ]; then
    apt_update || die "apt-cache knows no $KERNEL_META"
    stamp=$(lists_stamp)
    dep=$(apt-cache show --no-all-versions "$KERNEL_META" 2>/dev/null | sed -n 's/^Depends: //p' | head -n1)
    [ -n "$dep" ] || die "apt-cache knows no $KERNEL_META"
  fi
  # e.g. "linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)"
  line=$(echo "$dep" | tr ',|' '\n' | sed 's/^ *//' | grep -m1 '^linux-image-') ||
    die "cannot find a linux-image dependency in: $dep"
  KERNEL_PKG=${line%% *}
  case $line in
    *'(= '*')'*) KERNEL_VER=${line#*(= }; KERNEL_VER=${KERNEL_VER%%)*} ;;
    *) KERNEL_VER=$(apt-cache show --no-all-versions "$KERNEL_PKG" | sed -n 's/^Version: //p' | head -n1) ;;
  esac
  [ -n "$KERNEL_VER" ] || die "cannot find the version of $KERNEL_PKG"
  echo "$stamp $KERNEL_PKG $KERNEL_VER" >"$CACHE/kernel-resolved"
}
resolve_kernel

# --- qemu-guest-agent (only with --with-qemu-ga) ----------------------------------
# qemu-ga comes from the qemu-guest-agent .deb (downloaded and unpacked, never
# installed). It is dynamically linked: its NEEDED libraries, recursively, are
# resolved with readelf against this host's libraries (the same Debian
# release) and copied into the image with the dynamic loader. The cache key
# of the default image does not depend on any of this.
QGA_KEY='' QGA_VER='' QGA_DEB='' QGA_BIN='' QGA_INTERP=''
QGA_MULTIARCH=x86_64-linux-gnu # the image is amd64 only (the kernel is)
QGA_LIBDIRS=(/lib/$QGA_MULTIARCH /usr/lib/$QGA_MULTIARCH /lib64 /usr/lib64 /lib /usr/lib)
declare -A QGA_LIBS=() # soname -> path on this host
resolve_qga_version() {
  local stamp line
  stamp=$(lists_stamp "$QGA_PKG")
  if [ "${1:-}" != fresh ] && [ -r "$CACHE/qemu-ga-resolved" ]; then
    read -r line QGA_VER <"$CACHE/qemu-ga-resolved" || true
    [ "$line" = "$stamp" ] && [ -n "${QGA_VER:-}" ] && return 0
  fi
  QGA_VER=$(apt-cache show --no-all-versions "$QGA_PKG" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
  if [ -z "$QGA_VER" ]; then
    apt_update || die "apt-cache knows no $QGA_PKG"
    stamp=$(lists_stamp "$QGA_PKG")
    QGA_VER=$(apt-cache show --no-all-versions "$QGA_PKG" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
    [ -n "$QGA_VER" ] || die "apt-cache knows no $QGA_PKG"
  fi
  echo "$stamp $QGA_VER" >"$CACHE/qemu-ga-resolved"
}
qga_needed() { readelf -dW "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
qga_resolve_libs() {
  local n d p
  for n in $(qga_needed "$1"); do
    [ -z "${QGA_LIBS[$n]:-}" ] || continue
    p=''
    for d in "${QGA_LIBDIRS[@]}"; do
      if [ -e "$d/$n" ]; then p=$d/$n && break; fi
    done
    [ -n "$p" ] || die "qemu-ga needs $n, which this host does not have"
    QGA_LIBS[$n]=$p
    qga_resolve_libs "$p"
  done
}
prepare_qga() {
  local qdebs=$CACHE/qemu-ga/debs f
  command -v readelf >/dev/null || die "--with-qemu-ga needs readelf (apt-get install binutils)"
  resolve_qga_version
  mkdir -p "$qdebs"
  QGA_DEB=$(ls "$qdebs/${QGA_PKG}_${QGA_VER/:/%3a}"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$QGA_DEB" ]; then
    msg "downloading $QGA_PKG $QGA_VER"
    if ! (cd "$qdebs" && apt-get "${APT_OPTS[@]}" -q download "$QGA_PKG=$QGA_VER" >&2); then
      apt_update || die "apt-get download $QGA_PKG=$QGA_VER failed"
      resolve_qga_version fresh
      (cd "$qdebs" && apt-get "${APT_OPTS[@]}" -q download "$QGA_PKG=$QGA_VER" >&2) ||
        die "apt-get download $QGA_PKG=$QGA_VER failed"
    fi
    QGA_DEB=$(ls "$qdebs/${QGA_PKG}_${QGA_VER/:/%3a}"_*.deb 2>/dev/null | head -n1) ||
      die "downloaded $QGA_PKG .deb not found in $qdebs"
    for f in "$qdebs"/*.deb; do [ "$f" = "$QGA_DEB" ] || rm -f "$f"; done
  fi
  local xdir=$CACHE/qemu-ga/${QGA_VER/:/%3a}
  if [ ! -f "$xdir/.complete" ]; then
    rm -rf "$xdir" "$xdir.tmp"
    mkdir -p "$xdir.tmp"
    dpkg-deb -x "$QGA_DEB" "$xdir.tmp"
    touch "$xdir.tmp/.complete"
    mv "$xdir.tmp" "$xdir"
    for f in "$CACHE"/qemu-ga/*; do [ "$f" = "$xdir" ] || [ "$f" = "$qdebs" ] || rm -rf "$f"; done
  fi
  QGA_BIN=$xdir/usr/sbin/qemu-ga
  [ -x "$QGA_BIN" ] || die "no usr/sbin/qemu-ga in $QGA_DEB"
  QGA_INTERP=$(readelf -lW "$QGA_BIN" | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p')
  [ -n "$QGA_INTERP" ] && [ -e "$QGA_INTERP" ] || die "qemu-ga's dynamic loader ${QGA_INTERP:-?} is missing"
  qga_resolve_libs "$QGA_BIN"
  local n
  QGA_KEY=$({
    echo "qemu-ga=$QGA_VER $(sha256 "$QGA_BIN")"
    echo "interp=$QGA_INTERP $(sha256 "$(readlink -f "$QGA_INTERP")")"
    for n in $(printf '%s\n' "${!QGA_LIBS[@]}" | LC_ALL=C sort); do echo "$n $(sha256 "$(readlink -f "${QGA_LIBS[$n]}")")"; done
  } | sha256sum | cut -d' ' -f1)
  QGA_KEY="qemu-ga=$QGA_KEY"
}
[ "$QGA" = 1 ] && prepare_qga

rootfs_digest() {
  (cd "$ROOTFS" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z |
    xargs -0 stat -c '%n %A' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
    sha256sum | cut -d' ' -f1
}
compute_key() {
  KEY=$(printf '%s\n' "kernel=$KERNEL_PKG $KERNEL_VER" "busybox=$BUSYBOX_VER $BUSYBOX_SUM" \
    "vmcat=$VMCAT_SUM" "rootfs=$ROOTFS_SUM" "script=$(sha256 "$SELF")" ${QGA_KEY:+"$QGA_KEY"} |
    sha256sum | cut -d' ' -f1)
}
exit_if_up_to_date() {
  if [ "$FORCE" = 0 ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.cpio.gz" ] &&
    [ -f "$OUT/manifest.txt" ] && [ "$(cat "$OUT/.cache-key" 2>/dev/null)" = "$KEY" ]; then
    msg "up to date: $OUT"
    echo "$OUT"
    exit 0
  fi
}
ROOTFS_SUM=$(rootfs_digest)
compute_key
exit_if_up_to_date

# --- kernel: download and extract (cached per version) --------------------------
T0=$(date +%s%N)
DEBS=$CACHE/debs
mkdir -p "$DEBS"
deb_path() { ls "$DEBS/${KERNEL_PKG}_${KERNEL_VER/:/%3a}"_*.deb 2>/dev/null | head -n1; }
DEB=$(deb_path || true)
if [ -z "$DEB" ]; then
  msg "downloading $KERNEL_PKG $KERNEL_VER"
  if ! (cd "$DEBS" && apt-get "${APT_OPTS[@]}" -q download "$KERNEL_PKG=$KERNEL_VER" >&2); then
    apt_update || die "apt-get download $KERNEL_PKG=$KERNEL_VER failed"
    resolve_kernel fresh
    compute_key
    exit_if_up_to_date
    DEB=$(deb_path || true)
    if [ -z "$DEB" ]; then
      (cd "$DEBS" && apt-get "${APT_OPTS[@]}" -q download "$KERNEL_PKG=$KERNEL_VER" >&2) ||
        die "apt-get download $KERNEL_PKG=$KERNEL_VER failed"
    fi
  fi
  DEB=$(deb_path) || die "downloaded .deb not found in $DEBS"
fi

KDIR=$CACHE/kernel/${KERNEL_PKG}_$KERNEL_VER
if [ ! -f "$KDIR/.complete" ]; then
  msg "extracting $(basename "$DEB")"
  rm -rf "$KDIR" "$KDIR.tmp"
  mkdir -p "$KDIR.tmp"
  dpkg-deb -x "$DEB" "$KDIR.tmp"
  mv "$KDIR.tmp" "$KDIR"
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$VMLINUZ" ] || die "no /boot/vmlinuz-* in $DEB"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=
for d in "$KDIR/lib/modules/$KVER" "$KDIR/usr/lib/modules/$KVER"; do
  [ -d "$d" ] && MODDIR=$d && break
done
[ -n "$MODDIR" ] || die "no modules directory for $KVER in $DEB"
if [ ! -f "$KDIR/.complete" ]; then
  # The package ships no modules.dep (its postinst runs depmod).
  if [ ! -s "$MODDIR/modules.dep" ]; then
    base=${MODDIR%/lib/modules/"$KVER"}
    if command -v depmod >/dev/null; then depmod -b "$base" "$KVER"; else "$BUSYBOX" depmod -b "$base" "$KVER"; fi
  fi
  touch "$KDIR/.complete"
fi

# --- modules: resolve dependencies and load order -------------------------------
declare -A MPATH=() MDEPS=() BUILTIN=() ADDED=()
modname() { local n=${1##*/}; n=${n%%.ko*}; echo "${n//-/_}"; }
while IFS= read -r line; do
  p=${line%%:*} n=${p##*/} n=${n%%.ko*} n=${n//-/_}
  MPATH[$n]=$p MDEPS[$n]=${line#*:}
done <"$MODDIR/modules.dep"
if [ -r "$MODDIR/modules.builtin" ]; then
  while IFS= read -r p; do n=${p##*/} n=${n%%.ko*}; BUILTIN[${n//-/_}]=1; done <"$MODDIR/modules.builtin"
fi
LOAD=() SKIPPED_BUILTIN=() SKIPPED_ABSENT=()
add_module() {
  local n=${1//-/_} deps i
  [ -z "${ADDED[$n]:-}" ] || return 0
  ADDED[$n]=1
  if [ -n "${MPATH[$n]:-}" ]; then
    read -r -a deps <<<"${MDEPS[$n]}"
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_module "$(modname "${deps[i]}")"; done
    LOAD+=("${MPATH[$n]}")
  elif [ -n "${BUILTIN[$n]:-}" ]; then
    SKIPPED_BUILTIN+=("$n")
  else
    SKIPPED_ABSENT+=("$n")
    msg "warning: module $n not found in $KVER, skipped"
  fi
}
for m in "${MODULES[@]}"; do add_module "$m"; done

# --- stage the root filesystem ---------------------------------------------------
STAGE=$(mktemp -d "$CACHE/stage.XXXXXX")
NEWOUT=
cleanup() { rm -rf "$STAGE" ${NEWOUT:+"$NEWOUT"}; }
trap cleanup EXIT

mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt,var/log}
mkdir -p "$STAGE/lib/modules/$KVER"
chmod 1777 "$STAGE/tmp"
chmod 700 "$STAGE/root"
ln -s ../run "$STAGE/var/run"
cp "$BUSYBOX" "$STAGE/bin/busybox"
while IFS= read -r applet; do
  [ -e "$STAGE/$applet" ] || [ -L "$STAGE/$applet" ] || ln -s /bin/busybox "$STAGE/$applet"
done < <("$STAGE/bin/busybox" --list-full)
cp -R "$ROOTFS/." "$STAGE/"
chmod -R u+rwX,go+rX,go-w "$STAGE/etc" "$STAGE/sbin"
chmod 755 "$STAGE/init"
[ -f "$STAGE/etc/shadow" ] && chmod 600 "$STAGE/etc/shadow"
# The kernel opens /dev/console before running /init (its built-in initramfs
# has the node too, but do not rely on that).
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || msg "warning: cannot mknod /dev/console (not root?)"

LOADLIST=$STAGE/etc/modules.load
echo "# kernel modules loaded by /init in this order (relative to /lib/modules/$KVER)" >"$LOADLIST"
for p in "${LOAD[@]}"; do
  src=$MODDIR/$p dst=${p%.ko*}.ko
  mkdir -p "$STAGE/lib/modules/$KVER/$(dirname "$dst")"
  case $p in
    *.ko.xz) xz -dc "$src" ;;
    *.ko.zst) zstd -qdc "$src" ;;
    *.ko.gz) gzip -dc "$src" ;;
    *) cat "$src" ;;
  esac >"$STAGE/lib/modules/$KVER/$dst"
  echo "$dst" >>"$LOADLIST"
done
[ -f "$MODDIR/modules.builtin" ] && cp "$MODDIR/modules.builtin" "$STAGE/lib/modules/$KVER/"
# modules.dep for the included modules, so that modprobe/modinfo work too.
if command -v depmod >/dev/null; then depmod -b "$STAGE" "$KVER" 2>/dev/null || true; fi

if [ -n "$VMCAT_SRC" ]; then
  cp "$VMCAT_SRC" "$STAGE/usr/bin/vmcat"
  chmod 755 "$STAGE/usr/bin/vmcat"
fi

if [ "$QGA" = 1 ]; then
  cp "$QGA_BIN" "$STAGE/usr/sbin/qemu-ga"
  chmod 755 "$STAGE/usr/sbin/qemu-ga"
  mkdir -p "$STAGE/lib/$QGA_MULTIARCH" "$STAGE$(dirname "$QGA_INTERP")"
  for n in "${!QGA_LIBS[@]}"; do cp -L "${QGA_LIBS[$n]}" "$STAGE/lib/$QGA_MULTIARCH/$n"; done
  n=$(basename "$QGA_INTERP")
  if [ -n "${QGA_LIBS[$n]:-}" ] && [ "$(dirname "$QGA_INTERP")" != "/lib/$QGA_MULTIARCH" ]; then
    ln -s "/lib/$QGA_MULTIARCH/$n" "$STAGE$QGA_INTERP" # libc needs it by soname too
  else
    cp -L "$QGA_INTERP" "$STAGE$QGA_INTERP"
  fi
  cat >"$STAGE/sbin/vmcat-qemu-ga" <<'QGAEOF'
#!/bin/sh
# Runs qemu-ga (images built with --with-qemu-ga only; respawned by busybox
# init) once the VM has a virtio-serial port named org.qemu.guest_agent.0:
# its /dev/virtio-ports link appears shortly after boot, or when the port is
# hot-plugged. Output in /tmp/qemu-ga.log.
DEV=/dev/virtio-ports/org.qemu.guest_agent.0
i=0
while [ ! -e "$DEV" ]; do
	if [ $i -lt 200 ]; then usleep 50000; else sleep 2; fi
	i=$((i + 1))
done
/usr/sbin/qemu-ga -m virtio-serial -p "$DEV" -t /run -f /run/qemu-ga.pid </dev/null >>/tmp/qemu-ga.log 2>&1
echo "qemu-ga exited with status $?" >>/tmp/qemu-ga.log
sleep 1
QGAEOF
  chmod 755 "$STAGE/sbin/vmcat-qemu-ga"
  echo "::respawn:/sbin/vmcat-qemu-ga" >>"$STAGE/etc/inittab"
fi

# --- archive and install -----------------------------------------------------------
mkdir -p "$OUT"
NEWOUT=$(mktemp -d "$OUT/.new.XXXXXX")
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
  cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n >"$NEWOUT/initramfs.cpio.gz"
cp "$VMLINUZ" "$NEWOUT/vmlinuz"

{
  echo "# vmcat test guest image (images/build-image.sh)"
  echo "build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel_package=$KERNEL_PKG"
  echo "kernel_package_version=$KERNEL_VER"
  echo "kernel_metapackage=$KERNEL_META"
  echo "kernel_release=$KVER"
  echo "busybox_package=$BUSYBOX_PKG"
  echo "busybox_version=$BUSYBOX_VER"
  echo "busybox_sha256=$BUSYBOX_SUM"
  echo "vmcat_sha256=$VMCAT_SUM"
  echo "vmcat_source=${VMCAT_SRC:-none}"
  echo "modules=$(for p in "${LOAD[@]}"; do modname "$p"; done | tr '\n' ' ' | sed 's/ $//')"
  echo "modules_builtin=${SKIPPED_BUILTIN[*]}"
  echo "modules_absent=${SKIPPED_ABSENT[*]}"
  if [ "$QGA" = 1 ]; then
    echo "qemu_ga_package=$QGA_PKG"
    echo "qemu_ga_package_version=$QGA_VER"
    echo "qemu_ga_sha256=$(sha256 "$QGA_BIN")"
    echo "qemu_ga_interpreter=$QGA_INTERP"
    echo "qemu_ga_libs=$(for n in $(printf '%s\n' "${!QGA_LIBS[@]}" | LC_ALL=C sort); do
      pkg=$({ dpkg-query -S "${QGA_LIBS[$n]}" || dpkg-query -S "$(readlink -f "${QGA_LIBS[$n]}")"; } 2>/dev/null |
        head -n1 | cut -d: -f1-2 | tr -d ' ' || true)
      printf '%s(%s %s) ' "$n" "${pkg:-?}" "$(dpkg-query -W -f '${Version}' "${pkg:-none}" 2>/dev/null || true)"
    done | sed 's/ $//')"
  fi
  echo "vmlinuz_sha256=$(sha256 "$NEWOUT/vmlinuz")"
  echo "vmlinuz_bytes=$(stat -c %s "$NEWOUT/vmlinuz")"
  echo "initramfs_sha256=$(sha256 "$NEWOUT/initramfs.cpio.gz")"
  echo "initramfs_bytes=$(stat -c %s "$NEWOUT/initramfs.cpio.gz")"
  echo "cache_key=$KEY"
} >"$NEWOUT/manifest.txt"

rm -f "$OUT/.cache-key"
mv -f "$NEWOUT/vmlinuz" "$OUT/vmlinuz"
mv -f "$NEWOUT/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
mv -f "$NEWOUT/manifest.txt" "$OUT/manifest.txt"
echo "$KEY" >"$OUT/.cache-key"

# Keep only the current kernel in the cache.
for d in "$CACHE"/kernel/*; do [ "$d" = "$KDIR" ] || rm -rf "$d"; done
for f in "$DEBS"/*.deb; do [ "$f" = "$DEB" ] || rm -f "$f"; done

msg "built $OUT ($KVER, ${#LOAD[@]} modules, vmcat: $([ -n "$VMCAT_SRC" ] && echo yes || echo no),$([ "$QGA" = 1 ] && echo " qemu-ga $QGA_VER,")" \
  "initramfs $(($(stat -c %s "$OUT/initramfs.cpio.gz") / 1024)) KiB) in $((($(date +%s%N) - T0) / 1000000)) ms"
echo "$OUT"

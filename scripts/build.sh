#!/usr/bin/env bash
# Builds vmcat. Usage: scripts/build.sh [release|asan|fuzz]...
#   release  build/         the static vmcat binary (host and guest) and unit tests (default)
#   asan     build-asan/    unit tests under AddressSanitizer + UBSan
#   fuzz     build-fuzz/    libFuzzer targets (clang)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)

configure_and_build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  fi
  cmake --build "$dir" -j "$JOBS"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(release)
for t in "${targets[@]}"; do
  case "$t" in
    release) configure_and_build build -DCMAKE_BUILD_TYPE=MinSizeRel ;;
    asan) configure_and_build build-asan -DCMAKE_BUILD_TYPE=Debug -DVMCAT_SANITIZE=ON -DVMCAT_STATIC=OFF ;;
    fuzz) configure_and_build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_CXX_COMPILER=clang++ -DVMCAT_FUZZ=ON -DVMCAT_TESTS=OFF -DVMCAT_STATIC=OFF ;;
    *) echo "build.sh: unknown target $t" >&2; exit 2 ;;
  esac
done

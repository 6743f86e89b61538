#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test:
# unit tests (plain and under ASan+UBSan), the address-parser fuzzer for a
# bounded time, and the end-to-end tests that drive the real binary (real
# sockets, tmux, QEMU guests under TCG).
#
#   scripts/test.sh            everything
#   scripts/test.sh -k relay   pass extra arguments to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh release asan fuzz

echo "== unit tests"
./build/vmcat_unit_tests --gtest_brief=1
echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1 ./build-asan/vmcat_unit_tests --gtest_brief=1

echo "== fuzzing the address parser (bounded)"
mkdir -p build-fuzz/corpus-address
./build-fuzz/address_fuzzer -max_total_time="${VMCAT_FUZZ_SECONDS:-30}" \
  -dict=fuzz/address.dict build-fuzz/corpus-address fuzz/corpus/address 2>&1 | tail -n 2

echo "== end-to-end tests"
VMCAT="$PWD/build/vmcat" /usr/bin/python3 -m pytest -q tests/e2e "$@"

#!/usr/bin/env bash
# test.sh: the one test command (README, CI): installs missing Debian packages, builds loom
# in build/, runs every test through ctest, fuzzes the checkpoint, subword-model and CSV parsers for a bounded time
# (LOOM_FUZZ_SECONDS, default 60; 0 skips), then runs the same suite under ASan+UBSan in
# build-asan/ (LOOM_TEST_SANITIZE=0 skips that pass).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
loom_install_deps

jobs=$(nproc)
echo "==> build (build/)"
loom_build build
loom_fetch_datasets
echo "==> tests"
(cd build && ctest --output-on-failure -j "$jobs")

fuzz_seconds=${LOOM_FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" != 0 ]; then
  echo "==> libFuzzer on the safetensors, sentencepiece-model and CSV parsers, ${fuzz_seconds}s each (build-fuzz/)"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLOOM_FUZZ=ON -DLOOM_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
  cmake --build build-fuzz -j "$jobs" --target fuzz_safetensors fuzz_subword fuzz_csv >/dev/null
  (cd build-fuzz && ctest -L fuzz --output-on-failure)
fi

if [ "${LOOM_TEST_SANITIZE:-1}" != 0 ]; then
  echo "==> build with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  loom_build build-asan -DLOOM_SANITIZE=ON
  echo "==> tests under ASan+UBSan"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$jobs")
fi

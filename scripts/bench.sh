#!/usr/bin/env bash
# bench.sh: loom's benchmarks, each against numpy or PyTorch measured in the same run on
# this machine (tests/bench/<name>.lua runs its python twin <name>.py with /usr/bin/python3).
# Usage: scripts/bench.sh [name ...]   (names: matrix mlp rnn lstsq safetensors audio_features runs seq2seq)
# `runs` times the run store commands on 10,000 runs (tests/bench/runs_scale.lua, no twin).
# Timings, never assertions: run on a quiet machine and read the ratios. Set
# LOOM_BENCH_FULL=1 for the large lstsq sizes (10^6 x 200; needs minutes and ~4 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
loom_install_deps
loom_build build >/dev/null

# name and the arguments its script takes for the standard setting
declare -A ARGS=(
  [matrix]=""
  [mlp]="50"
  [rnn]=""
  [lstsq]="quick"
  [safetensors]="2"
  [audio_features]=""
  [runs]=""
  [seq2seq]=""
)
declare -A FILES=([runs]=runs_scale)
[ "${LOOM_BENCH_FULL:-0}" = 1 ] && ARGS[lstsq]=""

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(matrix mlp rnn lstsq safetensors audio_features seq2seq)

# oneDNN's RNN primitives are a reference of the rnn benchmark only, never a dependency of
# loom: libdnnl-dev is installed here (as root) and tests/bench/rnn_onednn.c built beside
# the build. Without it the rnn benchmark prints no oneDNN column.
build_onednn_reference() {
  if ! dpkg-query -W -f='${Status}' libdnnl-dev 2>/dev/null | grep -q "install ok installed"; then
    if [ "$(id -u)" != 0 ]; then
      echo "bench.sh: no oneDNN reference (as root: apt-get install libdnnl-dev)" >&2
      return 0
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libdnnl-dev >/dev/null
  fi
  mkdir -p build/bench
  cc -O2 -std=c11 -o build/bench/rnn_onednn tests/bench/rnn_onednn.c -ldnnl
}
if [[ " ${names[*]} " == *" rnn "* ]]; then build_onednn_reference; fi
for name in "${names[@]}"; do
  script="tests/bench/${FILES[$name]:-$name}.lua"
  if [ ! -f "$script" ]; then
    echo "bench.sh: no benchmark '$name' (tests/bench/*.lua)" >&2
    exit 2
  fi
  printf '\n==> %s\n' "$name"
  # shellcheck disable=SC2086
  LOOM_BIN="$PWD/build/bin/loom" build/bin/loom "$script" ${ARGS[$name]}
done

#!/usr/bin/env bash
# deps.sh: installs the Debian packages loom needs (as root), or prints the exact apt-get
# line and stops. Sourced by test.sh, demo.sh and bench.sh; not a build step.
# LOOM_NO_REFERENCE=1 leaves out the reference stacks (PyTorch, torchaudio, numpy).
set -euo pipefail

LOOM_PACKAGES=(
  build-essential cmake pkg-config          # compiler and build
  lua5.4 liblua5.4-dev                      # the language (stock lua5.4 runs the module tests)
  libopenblas-dev liblapacke-dev            # BLAS and LAPACK: all numerics
  libxsmm-dev                               # JIT small-matrix products: recurrent steps
  check                                     # C unit tests
  zlib1g-dev                                # gzip-compressed CSV and text data
  libcurl4-openssl-dev                      # loom data fetch: downloads large datasets
  libssl-dev                                # SHA-256 of dataset files (libcrypto)
  luarocks                                  # the LuaRocks install path (tested)
  libedit-dev                               # REPL line editing (BSD licence)
  libsqlite3-dev                            # the run store
  libcjson-dev                              # safetensors headers, JSON export
  libsndfile1-dev libsamplerate0-dev        # audio files and resampling
  libfftw3-dev                              # spectra and MFCC
  libicu-dev                                # number words (ICU spell-out) for the translation data
  libsentencepiece-dev sentencepiece        # subword units (C++ library behind a C shim; spm_encode in tests)
  diatheke sword-text-web sword-text-sparv  # English and Spanish Bibles: the translation pairs
  dict-freedict-eng-spa                     # English-Spanish dictionary: word-for-word baseline
  gnuplot-nox                               # plots
  chromium                                  # tests render the HTML report (loom report) headless
  espeak-ng                                 # synthetic spoken digits
  slurm-wlm munge                           # cluster sweeps (tests run a one-node cluster)
  clang libclang-rt-14-dev                  # libFuzzer target for the checkpoint loader
  valgrind                                  # documented memory checks
  wamerican                                 # English word list: agreement's open noun/verb lexicon
)
if [ "${LOOM_NO_REFERENCE:-0}" != 1 ]; then
  # References for cross-checks only, never used by loom itself.
  LOOM_PACKAGES+=(python3 python3-numpy python3-torch python3-torchaudio)
fi

loom_missing_packages() {
  local missing=() p
  for p in "${LOOM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

loom_install_deps() {
  local missing
  missing=$(loom_missing_packages)
  [ -z "$missing" ] && return 0
  local line="apt-get install -y --no-install-recommends $missing"
  if [ "$(id -u)" != 0 ]; then
    echo "loom needs these Debian packages; as root run:" >&2
    echo "  apt-get update && $line" >&2
    exit 1
  fi
  echo "==> installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Configure and build into $1 (default build/) with extra CMake arguments.
loom_build() {
  local dir=${1:-build}
  shift || true
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

# Large datasets (FSDD, SCAN): `loom data fetch --all` takes them from loom's data mirror
# (LOOM_DATA_MIRROR, or the shared data folder loom finds beside the checkout) or from their
# upstream URLs, and verifies them. Without either (no network), nothing is fetched: tests
# that need a large set skip naming `loom data fetch`, experiments use their generators.
# Needs build/bin/loom.
loom_fetch_datasets() {
  echo "==> large datasets (loom data fetch --all)"
  if ! build/bin/loom data fetch --all; then
    echo "==> not fetched (no network and no mirror): tests that need them skip, experiments use generated data"
  fi
}

#!/usr/bin/env bash
# demo.sh: the experiment tour. Sets up (packages, build) when needed, then runs each
# experiment in its quick setting, recording the runs in runs.db (see `loom runs`).
# LOOM_DEMO_FULL=1 runs the experiments with their default (full) params instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
loom_install_deps
if [ ! -x build/bin/loom ] || [ -n "$(find src lua CMakeLists.txt -newer build/bin/loom -print -quit)" ]; then
  echo "==> building loom (build/)"
  loom_build build >/dev/null
fi
loom_fetch_datasets 2>/dev/null
loom=build/bin/loom
quick="quick=true"
[ "${LOOM_DEMO_FULL:-0}" = 1 ] && quick=""

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "matrices (scripts/matrices.lua)"
$loom scripts/matrices.lua

for experiment in regression backprop digits ann_vs_rnn vanishing agreement speech translation; do
  step "experiment: $experiment ($loom run scripts/experiments/$experiment.lua $quick)"
  $loom run "scripts/experiments/$experiment.lua" $quick
done

step "done: 'build/bin/loom runs' lists the recorded runs; 'build/bin/loom' opens the REPL"

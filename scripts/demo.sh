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

for experiment in regression backprop digits ann_vs_rnn vanishing agreement speech; do
  step "experiment: $experiment ($loom run scripts/experiments/$experiment.lua $quick)"
  $loom run "scripts/experiments/$experiment.lua" $quick
done

step "experiment: translation ($loom run scripts/experiments/translation.lua $quick)"
id=$($loom run --print-id scripts/experiments/translation.lua $quick)
# The trained model on sentences of its own choosing: SCAN commands, or French number words
# when SCAN is not here and the experiment fell back to them.
if $loom data path scan >/dev/null 2>&1; then
  sentences='jump twice and walk left\nrun opposite right after look thrice\n'
else
  sentences='quatre-vingt-dix-sept\ncent vingt et un mille trois cent deux\n'
fi
step "the translation model on new input (printf '$sentences' | $loom scripts/experiments/translation.lua translate - --checkpoint runs/$id/model.safetensors)"
printf "$sentences" | $loom scripts/experiments/translation.lua translate - --checkpoint "runs/$id/model.safetensors"

step "done: 'build/bin/loom runs' lists the recorded runs; 'build/bin/loom' opens the REPL"

#!/usr/bin/env bash
# The main job, offline, on a fresh machine with no cloud account and no Pulumi CLI.
# Runs every step in scripts/demo.d/ in name order; each step is one capability with its own
# time budget (the whole demo stays under 5 minutes on a fresh clone). Every request goes to
# 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/system-deps.sh demo
export GPUFLEET=.venv/bin/gpufleet
export OUT=${GPUFLEET_OUT:-out}
export STACK=${GPUFLEET_DEMO_STACK:-prod-us-east-1}
mkdir -p "$OUT"
# Rich wraps tables at 80 columns when output is not a terminal; the reports are wider.
[ -t 1 ] || export COLUMNS=${COLUMNS:-160}
steps=(scripts/demo.d/*.sh)
for i in "${!steps[@]}"; do
  step=${steps[$i]}
  echo "==> $((i + 1))/${#steps[@]} $(sed -n 's/^# step: //p' "$step")"
  bash "$step"
done
echo "reports in $OUT/"

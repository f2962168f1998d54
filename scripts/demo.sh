#!/usr/bin/env bash
# The main job, offline, on a fresh machine with no cloud account and no Pulumi CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
GPUFLEET=.venv/bin/gpufleet
OUT=${GPUFLEET_OUT:-out}
# Rich wraps tables at 80 columns when output is not a terminal; the reports are wider.
[ -t 1 ] || export COLUMNS=${COLUMNS:-160}
mkdir -p "$OUT"

echo "==> offline preview of every stack: resources, GPU pools, model servers, cost"
$GPUFLEET preview --all

echo "==> finance report: monthly cost per stack and line item (console, HTML and CSV)"
$GPUFLEET cost
$GPUFLEET cost --format html --output "$OUT/cost.html"
$GPUFLEET cost --format csv --output "$OUT/cost.csv"
echo "wrote $OUT/cost.html and $OUT/cost.csv"

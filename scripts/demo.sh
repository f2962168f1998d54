#!/usr/bin/env bash
# The main job, offline, on a fresh machine with no cloud account and no Pulumi CLI:
# preview every stack (with policy results and cost), gate the local model server
# with the Locust SLO test, rehearse a promotion, and write the finance report.
# Every request goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
GPUFLEET=.venv/bin/gpufleet
OUT=${GPUFLEET_OUT:-out}
STACK=${GPUFLEET_DEMO_STACK:-prod-us-east-1}
mkdir -p "$OUT"
# Rich wraps tables at 80 columns when output is not a terminal; the reports are wider.
[ -t 1 ] || export COLUMNS=${COLUMNS:-160}

echo "==> 1/4 offline preview of every stack: resources, GPU pools, model servers, policies, cost"
$GPUFLEET preview --all

echo "==> 2/4 load-test gate: Locust against the local vLLM simulator, with $STACK's SLOs"
# The stack's SLO thresholds, at 10 req/s for 40 s so the demo stays short (>= minSamples).
$GPUFLEET loadtest --local --stack "$STACK" --rate 10 --duration 40 \
  --json "$OUT/loadtest.json" --html "$OUT/loadtest.html" --csv "$OUT/loadtest.csv"

echo "==> 3/4 promotion dry run: move $STACK from blue to green in two gated steps"
$GPUFLEET promote --stack "$STACK" --to green --steps 50,100 --dry-run --local \
  --gate-rate 10 --gate-duration 35 --settle 0 --audit-log "$OUT/promotions.jsonl"

echo "==> 4/4 finance report: monthly cost per stack and line item, cost per 1M output tokens"
$GPUFLEET cost --loadtest "$STACK=$OUT/loadtest.json"
$GPUFLEET cost --loadtest "$STACK=$OUT/loadtest.json" --format html --output "$OUT/cost.html"
$GPUFLEET cost --format csv --output "$OUT/cost.csv"
echo "reports in $OUT/: loadtest.{json,html,csv}, promotions.jsonl, cost.{html,csv}"

# step: promotion dry run: move the demo stack from blue to green in two gated steps
set -euo pipefail
$GPUFLEET promote --stack "$STACK" --to green --steps 50,100 --dry-run --local \
  --gate-rate 10 --gate-duration 35 --settle 0 --audit-log "$OUT/promotions.jsonl"

# step: finance report: monthly cost per stack and line item, cost per 1M output tokens
set -euo pipefail
$GPUFLEET cost --loadtest "$STACK=$OUT/loadtest.json"
$GPUFLEET cost --loadtest "$STACK=$OUT/loadtest.json" --format html --output "$OUT/cost.html"
$GPUFLEET cost --format csv --output "$OUT/cost.csv"

# step: load-test gate: Locust against the local vLLM simulator, with the demo stack's SLOs
set -euo pipefail
# The stack's SLO thresholds, at 10 req/s for 40 s so the demo stays short (>= minSamples).
$GPUFLEET loadtest --local --stack "$STACK" --rate 10 --duration 40 \
  --json "$OUT/loadtest.json" --html "$OUT/loadtest.html" --csv "$OUT/loadtest.csv"

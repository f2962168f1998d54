# step: promotion rehearsals against a real Prometheus: one healthy candidate promoted, one rolled back at step 2
set -euo pipefail
# Two simulators (blue, green) behind HAProxy, Locust users through it, Prometheus scraping both every second;
# each shift is judged on live traffic (TTFT, TPOT, e2e p95, errors, queue, KV cache) against the SLO and blue.
common=(--stack "$STACK" --to green --steps 50,100 --dry-run --local --settle 0
        --gate-rate 36 --gate-duration 10 --gate-warmup 1 --analysis-interval 3 --analysis-iterations 2
        --traffic-rate 30 --sim ttft_ms=60 --sim itl_ms=5 --sim jitter=0 --audit-log "$OUT/promotions.jsonl")
$GPUFLEET promote "${common[@]}" --html "$OUT/promotion-healthy.html"
echo "--- the same candidate, with an error burst switched on when step 2 (100%) is applied:"
if $GPUFLEET promote "${common[@]}" --sim-at 2:error_rate=0.3 --html "$OUT/promotion-rolled-back.html"; then
  echo "the faulty candidate was promoted: the analysis did not catch the error burst" >&2
  exit 1
fi

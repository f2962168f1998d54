# step: promotion rehearsals against a real Prometheus: one healthy candidate promoted, one rolled back at step 2
set -euo pipefail
# Two simulators (blue, green) behind HAProxy, Locust users through it, Prometheus scraping both every second;
# each shift is judged on live traffic (TTFT, TPOT, e2e p95, errors, queue, KV cache) against the SLO and blue.
common=(--stack "$STACK" --to green --steps 50,100 --dry-run --local --settle 0
        --gate-rate 25 --gate-duration 14 --gate-warmup 1 --analysis-interval 3 --analysis-iterations 2
        --traffic-rate 20 --sim ttft_ms=60 --sim itl_ms=5 --sim jitter=0 --audit-log "$OUT/promotions.jsonl")
$GPUFLEET promote "${common[@]}" --html "$OUT/promotion-healthy.html"
echo "--- the same candidate, with an error burst switched on when step 2 (100%) is applied:"
if $GPUFLEET promote "${common[@]}" --sim-at 2:error_rate=0.3 --html "$OUT/promotion-rolled-back.html" \
    | tee "$OUT/promotion-rolled-back.txt"; then
  echo "the faulty candidate was promoted: the analysis did not catch the error burst" >&2
  exit 1
fi
if ! grep -q "^rehearsal-rolled-back: step 2 analysis verdict fail" "$OUT/promotion-rolled-back.txt"; then
  # the load-test gate judges its own client too (event-loop lag, CPU): on a very busy machine it can call
  # its measurement invalid before step 1, and the promotion stops there, as it must
  echo "note: this run stopped before step 2 for the reason above, not at the error burst" >&2
fi

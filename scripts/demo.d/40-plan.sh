# step: capacity plan: sweep one simulated replica to its SLO knee, size the fleet for a 40 req/s peak, price it
set -euo pipefail
# A short rehearsal (3 points of 2 s, 20 samples each); a real plan runs the SLO's own windows against
# a deployed replica (--host). The stack file is not written here (--write would, after a clean preview).
$GPUFLEET plan --local --stack "$STACK" --release blue --peak-rps 40 --avg-rps 15 \
  --start-rps 30 --resolution 0.35 --max-points 3 --point-duration 2 --warmup 0.5 --min-samples 20 --timeout 10 \
  --json "$OUT/plan.json" --html "$OUT/plan.html"

# step: capacity plan: sweep one simulated replica to its SLO knee, size the fleet for a 40 req/s peak, price it
set -euo pipefail
# A short rehearsal (3 points of 1.5 s, 20 samples each); a real plan runs the SLO's own windows against
# a deployed replica (--host). The stack file is not written here (--write would, after a clean preview).
# Exit 3 means a point could not be measured (e.g. the machine was too busy for the client to keep its
# schedule): the plan says so, writes its report without a knee, and the demo goes on.
status=0
$GPUFLEET plan --local --stack "$STACK" --release blue --peak-rps 40 --avg-rps 15 \
  --start-rps 30 --resolution 0.35 --max-points 3 --point-duration 1.5 --warmup 0.5 --min-samples 20 --timeout 10 \
  --json "$OUT/plan.json" --html "$OUT/plan.html" || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ]

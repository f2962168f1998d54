# step: SLO alerts on a real Prometheus scraping the simulator (rule windows scaled 1/120: a 1h burn shows in 30 s)
set -euo pipefail
# The preview (step 10) listed each stack's alert rules and `promtool check rules`; here the same
# generated rules run in a real Prometheus: healthy load, then a TTFT + 5xx fault, alert states each
# second. Without the Debian prometheus package it says so in one line and the demo goes on.
if ! command -v prometheus >/dev/null; then
  echo "prometheus not installed (Debian package 'prometheus'; run scripts/system-deps.sh): skipping the live alert run"
  exit 0
fi
timeout 60 .venv/bin/python -m gpufleet.observability.scenario --scale 1/120 --healthy-s 3 --fault-max-s 16 \
  | awk 'NR == 1 || /healthy:|fault  :|final:/ || NR % 3 == 0' | tee "$OUT/observability.txt"

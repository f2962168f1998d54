#!/usr/bin/env bash
# Install the Debian packages in scripts/system-packages.txt that are missing, when apt-get is
# available and we are root (CI runs as root on a fresh Debian machine). Prints one line per
# package it cannot provide and never fails: the tests that need a tool fail with their own line.
set -uo pipefail
cd "$(dirname "$0")/.."
# `system-deps.sh demo` installs only what the demo needs (a fresh demo stays under 5 minutes).
use=${1:-test}
mapfile -t wanted < <(awk -v use="$use" '!/^[[:space:]]*(#|$)/ { if (NF == 1) print $1; for (i = 2; i <= NF; i++) if ($i == use) print $1 }' \
  scripts/system-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
  echo "gpufleet: cannot install ${missing[*]} (needs apt-get as root); tests that use them will fail with a reason" >&2
  exit 0
fi
echo "==> installing Debian packages: ${missing[*]}" >&2
log=$(mktemp)
if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "gpufleet: apt-get could not install ${missing[*]}" >&2
fi
rm -f "$log"
# Debian may start the packaged daemons; the tests run their own on 127.0.0.1 with free ports.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter haproxy docker-registry; do
  service "$svc" stop >/dev/null 2>&1
done
exit 0

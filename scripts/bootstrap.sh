#!/usr/bin/env bash
# Create or refresh the project's virtualenv (.venv) from pyproject.toml.
# Idempotent: re-installs only when pyproject.toml changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "gpufleet needs Python >= 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
stamp=.venv/.gpufleet-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "==> setting up .venv (first run takes a few minutes: the Pulumi provider SDKs are large)" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
log=.venv/install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[test]"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "gpufleet: installing dependencies failed; full log in $log" >&2
  exit 1
fi
echo "$want" > "$stamp"

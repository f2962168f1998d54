#!/usr/bin/env bash
# The main job, offline, on a fresh machine with no cloud account and no Pulumi CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
GPUFLEET=.venv/bin/gpufleet

echo "==> 1/1 offline preview of every stack (the real Pulumi program under the SDK's mock engine)"
$GPUFLEET preview --all

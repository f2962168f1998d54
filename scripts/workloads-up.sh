#!/usr/bin/env bash
# Phase 2 of a region (docs/deploy.md): preflight with `gpufleet doctor`, then `pulumi up` of the
# workloads project. Refuses to start when any check fails, so no Deployment waits on a missing
# image, weights, quota or authorisation. Run from a machine that reaches the private API server.
#   usage: scripts/workloads-up.sh STACK [pulumi up args...]
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:?usage: scripts/workloads-up.sh STACK [pulumi up args...]}
shift
outputs=$(mktemp)
trap 'rm -f "$outputs"' EXIT
pulumi stack output --json --stack "$stack" >"$outputs"
.venv/bin/gpufleet doctor --stack "$stack" --phase workloads --outputs "$outputs"
pulumi -C workloads up --stack "$stack" --policy-pack policy "$@"

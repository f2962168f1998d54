# step: offline preview of every stack: resources, GPU pools, model servers, policies, cost
set -euo pipefail
$GPUFLEET preview --all

# step: preflight (gpufleet doctor) of a fresh AWS and a fresh Alibaba Cloud account, on recorded API responses
set -euo pipefail
# Preflight of a fresh AWS account and a fresh Alibaba Cloud account, on recorded
# API responses (tests/fixtures/doctor/; no cloud is asked). Each failure is one line with its fix;
# exit 1 means "fix these before `pulumi up`", which is what a fresh account should get.
for pair in prod-us-east-1:aws-fresh prod-cn-hangzhou:alicloud-fresh; do
  stack=${pair%%:*} scenario=${pair##*:}
  rc=0
  $GPUFLEET doctor --stack "$stack" --recorded "tests/fixtures/doctor/$scenario" || rc=$?
  [ "$rc" -eq 1 ] || { echo "doctor on $scenario: expected exit 1 (failures found), got $rc" >&2; exit 1; }
done

"""`gpufleet promote`: move traffic to a release step by step, each step gated by the load test.

The pieces, each replaceable at its interface so the state machine is tested
with stand-ins: `plan` (steps and weights, pure), `machine` (step, verify,
apply, roll back), `lock` (one promotion per stack), `audit` (JSON lines for
the change ticket), and the adapters `automation` (Pulumi Automation API),
`kube` (rollout checks with the Kubernetes API) and `gates` (the load-test
gate and the local simulator). `inputs` reads what a promotion needs from the
stack's config.
"""

"""`gpufleet promote`: move traffic to a release step by step, each step gated by the load test.

The pieces, each replaceable at its interface so the state machine is tested
with stand-ins: `plan` (steps and weights, pure), `machine` (step, verify,
apply, roll back), `lock` (one promotion per stack), `audit` (JSON lines for
the change ticket), and the adapters `automation` (Pulumi Automation API),
`kube` (rollout checks with the Kubernetes API) and `gates` (the load-test
gate and the local simulator). Live-traffic analysis: `queries` (PromQL over
vLLM's metrics), `prometheus` (the HTTP API client), `analysis` (one
iteration's verdict), `steps` (a step's iterations and failure limit), `live`
(wiring from `gpufleet:promotion`); `summary` and `report` show the result.
`rehearsal` (with `router` and `traffic`) runs a whole promotion locally.
`inputs` reads what a promotion needs from the stack's config.
"""

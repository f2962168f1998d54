"""A vLLM *simulator*: an OpenAI-compatible server with vLLM's timing, no model.

It answers ``/v1/chat/completions`` and ``/v1/completions`` with random words
at latencies computed by a continuous-batching model calibrated on published
vLLM figures (see docs/simserver.md), exposes vLLM's Prometheus metrics and
records the ground truth of every response for measuring load-test accuracy.
Start it with ``python -m gpufleet.simserver`` or, from Python,
:class:`gpufleet.simserver.launch.LocalServer`.
"""

from gpufleet.simserver.launch import LocalServer
from gpufleet.simserver.options import SimOptions

__all__ = ["LocalServer", "SimOptions"]

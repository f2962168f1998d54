"""PUT /sim/faults: faults and fixed latencies change for new requests without a restart."""

from __future__ import annotations

import json
import urllib.request

import pytest

from gpufleet.simserver.launch import LocalServer
from gpufleet.simserver.options import SimOptions, resolve
from gpufleet.simserver.switches import SwitchError, switched_config


def test_switched_config_changes_only_what_is_given() -> None:
    config = resolve(SimOptions(ttft_ms=100, itl_ms=5, error_rate=0.1))
    new = switched_config(config, {"ttft_ms": 650, "error_rate": 0.3})
    assert (new.timing.ttft_base_s, new.timing.prefill_s_per_token, new.timing.fixed_itl_s) == (0.65, 0.0, 0.005)
    assert (new.faults.error_rate, new.faults.stall_rate) == (0.3, 0.0)
    assert config.faults.error_rate == 0.1  # the old config is untouched


@pytest.mark.parametrize("body,message", [
    ({}, "body must be a non-empty JSON object with keys among: error_rate, stall_rate, stall_ms, "
         "disconnect_rate, malformed_rate, ttft_ms, itl_ms"),
    ({"ttft": 5}, "unknown switch 'ttft' (allowed: error_rate, stall_rate, stall_ms, disconnect_rate, "
                  "malformed_rate, ttft_ms, itl_ms)"),
    ({"error_rate": 1.5}, "error_rate must be between 0 and 1, got 1.5"),
    ({"ttft_ms": -1}, "'ttft_ms' must be >= 0, got -1"),
    ({"ttft_ms": "fast"}, "'ttft_ms' must be a finite number, got 'fast'"),
    ({"error_rate": True}, "'error_rate' must be a finite number, got True"),
])
def test_bad_switches_are_refused(body, message) -> None:
    with pytest.raises(SwitchError) as err:
        switched_config(resolve(SimOptions()), body)
    assert str(err.value) == message


def _chat(server: LocalServer) -> int:
    body = json.dumps({"model": server.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    request = urllib.request.Request(f"{server.url}/v1/chat/completions", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_running_server_switches_faults_and_counts_http_status() -> None:
    with LocalServer(ttft_ms=5, itl_ms=1, jitter=0.0) as server:
        assert [_chat(server) for _ in range(3)] == [200, 200, 200]
        described = server.set_faults(error_rate=1.0, ttft_ms=50)
        assert described["faults"]["error_rate"] == 1.0 and described["timing"]["ttft_base_ms"] == 50.0
        assert {_chat(server) for _ in range(3)} <= {500, 503}
        with pytest.raises(ValueError, match="unknown switch 'nope'"):
            server.set_faults(nope=1)
        text = urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
        assert 'http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 3.0' in text
        assert 'http_requests_total{handler="/v1/chat/completions",method="POST",status="5xx"} 3.0' in text
        assert "vllm:request_time_per_output_token_seconds_count" in text

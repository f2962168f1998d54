"""CLI options, loopback-only binding, profile resolution and the launcher's argument checks."""

from __future__ import annotations

import pytest

from gpufleet.simserver.launch import LocalServer
from gpufleet.simserver.options import (
    SimOptions,
    check_loopback,
    options_from_argv,
    options_to_argv,
    resolve,
)


@pytest.mark.parametrize(("host", "bound"), [("127.0.0.1", "127.0.0.1"), ("127.8.9.10", "127.8.9.10"),
                                             ("::1", "::1"), ("localhost", "127.0.0.1")])
def test_loopback_hosts_are_accepted(host: str, bound: str) -> None:
    assert check_loopback(host) == bound


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.com"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError) as err:
        check_loopback(host)
    assert str(err.value) == (
        f"refusing to listen on non-loopback host {host!r}: the simulator only binds to "
        "loopback addresses (127.0.0.0/8, ::1, localhost)"
    )


def test_cli_refuses_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        options_from_argv(["--host", "0.0.0.0"])
    assert exit_info.value.code == 2
    assert "error: refusing to listen on non-loopback host '0.0.0.0'" in capsys.readouterr().err


def test_argv_round_trip() -> None:
    options = SimOptions(port=0, profile="h100-80gb-llama-3.1-8b", model="m", seed=4, jitter=0.0,
                         max_num_seqs=8, ttft_ms=120.5, itl_ms=20.0, tokens_per_chunk=3, error_rate=0.1,
                         stall_rate=0.2, stall_ms=300.0, disconnect_rate=0.05, malformed_rate=0.01,
                         default_max_tokens=64, max_model_len=4096, kv_capacity_tokens=50000, truth_size=99)
    argv = options_to_argv(options)
    assert argv[:4] == ["--profile", "h100-80gb-llama-3.1-8b", "--model", "m"]
    assert options_from_argv(argv) == (options, False)
    assert options_to_argv(SimOptions()) == []


def test_cli_flags_match_the_documented_names() -> None:
    parsed, listing = options_from_argv(
        ["--ttft-ms", "200", "--itl-ms", "25", "--tokens-per-chunk", "4", "--max-num-seqs", "16", "--list-profiles"]
    )
    assert (parsed.ttft_ms, parsed.itl_ms, parsed.tokens_per_chunk, parsed.max_num_seqs, listing) == (200.0, 25.0, 4, 16, True)


def test_resolve_fixed_timing_overrides_the_profile() -> None:
    config = resolve(SimOptions(ttft_ms=200, itl_ms=25))
    t = config.timing
    assert (t.ttft_base_s, t.prefill_s_per_token, t.fixed_itl_s) == (0.2, 0.0, 0.025)
    assert config.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert (config.profile.name, config.max_num_seqs, config.max_model_len) == ("a10-24gb-llama-3.1-8b", 256, 8192)
    assert config.describe()["timing"]["fixed_itl_ms"] == 25.0


def test_resolve_profile_defaults_and_overrides() -> None:
    config = resolve(SimOptions(profile="h100-80gb-llama-3.1-8b", model="served", max_num_seqs=3,
                                kv_capacity_tokens=5000))
    assert (config.model, config.max_num_seqs, config.kv_capacity_tokens, config.max_model_len) == ("served", 3, 5000, 5000)
    assert config.timing.fixed_itl_s is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SimOptions(max_model_len=50000), "max_model_len 50000 exceeds the KV cache capacity of 42131 tokens"),
        (SimOptions(max_model_len=2000, kv_capacity_tokens=1000),
         "max_model_len 2000 exceeds the KV cache capacity of 1000 tokens"),
        (SimOptions(tokens_per_chunk=0), "tokens_per_chunk must be at least 1, got 0"),
        (SimOptions(jitter=-1.0), "jitter must be >= 0, got -1.0"),
        (SimOptions(itl_ms=-5.0), "itl_ms must be >= 0, got -5.0"),
        (SimOptions(port=70000), "port must be between 0 and 65535, got 70000"),
        (SimOptions(error_rate=2.0), "error_rate must be between 0 and 1, got 2.0"),
    ],
)
def test_resolve_rejects_bad_options(options: SimOptions, message: str) -> None:
    with pytest.raises(ValueError) as err:
        resolve(options)
    assert str(err.value) == message


def test_local_server_rejects_unknown_options() -> None:
    with pytest.raises(TypeError) as err:
        LocalServer(itl=20)
    assert str(err.value).startswith("unknown simulator option(s): itl; known: default_max_tokens, ")


def test_local_server_validates_before_starting() -> None:
    with pytest.raises(ValueError) as err:
        LocalServer(host="0.0.0.0")
    assert str(err.value).startswith("refusing to listen on non-loopback host '0.0.0.0'")


def test_local_server_properties_need_a_running_server() -> None:
    server = LocalServer(itl_ms=5)
    with pytest.raises(RuntimeError) as err:
        _ = server.url
    assert str(err.value) == "the simulator is not running; call start() first"
    assert server.argv()[1:] == ["-m", "gpufleet.simserver", "--itl-ms", "5"]
    server.stop()  # stopping a server that never started is a no-op

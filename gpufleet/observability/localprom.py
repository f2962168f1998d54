"""A real Prometheus on 127.0.0.1 for tests, demos and local analysis (reusable API).

    from gpufleet.observability.localprom import LocalPrometheus, ScrapeTarget

    target = ScrapeTarget("vllm", "127.0.0.1:8123", labels={"stack": "dev", "release": "blue"})
    with LocalPrometheus([target], rules_text=rules, scrape_interval_s=1) as prom:
        prom.wait_for_target_up()
        prom.query("gpufleet:vllm_ttft_seconds:p95_5m")     # instant vector: list of {metric, value}
        prom.alerts()                                      # [{labels, state: pending|firing, ...}]
        prom.rule_states()                                 # {alertname: inactive|pending|firing}

It runs the `prometheus` binary (Debian package `prometheus`) with a temporary
data directory on a free loopback port (retried on a port race), scrape and
evaluation intervals as given, and `--web.enable-lifecycle` off. `stop()` (or
leaving the `with`) terminates it and removes the data directory. Failure to
start raises `RuntimeError` with the tail of Prometheus's log.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import yaml

from gpufleet.processes import WorkdirProcess, free_port

__all__ = ["LocalPrometheus", "ScrapeTarget", "PrometheusNotInstalled"]


class PrometheusNotInstalled(RuntimeError):
    """The prometheus binary is missing; str() is one line saying how to install it."""


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str  # host:port
    labels: dict[str, str] = field(default_factory=dict)
    metrics_path: str = "/metrics"


def _ms(seconds: float) -> str:
    """A Prometheus duration (no fractions: 0.5 s is '500ms')."""
    return f"{round(seconds * 1000)}ms"


class LocalPrometheus(WorkdirProcess):
    """One Prometheus process; see the module docstring."""

    LOG = "prometheus.log"
    GRACE_S = 10.0

    def __init__(self, targets: list[ScrapeTarget], rules_text: str | None = None, *,
                 scrape_interval_s: float = 1.0, evaluation_interval_s: float | None = None,
                 startup_timeout_s: float = 30.0) -> None:
        super().__init__()
        self.targets = targets
        self.rules_text = rules_text
        self.scrape_interval_s = scrape_interval_s
        self.evaluation_interval_s = evaluation_interval_s or scrape_interval_s
        self.startup_timeout_s = startup_timeout_s
        self.url = ""

    # -- lifecycle ---------------------------------------------------------
    def config(self) -> dict[str, Any]:
        scrape = [{"job_name": t.job, "metrics_path": t.metrics_path,
                   "static_configs": [{"targets": [t.address], "labels": dict(t.labels)}]} for t in self.targets]
        doc: dict[str, Any] = {"global": {"scrape_interval": _ms(self.scrape_interval_s),
                                          "evaluation_interval": _ms(self.evaluation_interval_s),
                                          "scrape_timeout": _ms(min(self.scrape_interval_s, 10))},
                               "scrape_configs": scrape}
        if self.rules_text is not None:
            doc["rule_files"] = ["rules.yaml"]
        return doc

    def start(self) -> LocalPrometheus:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusNotInstalled("prometheus not installed (Debian package 'prometheus'; run scripts/system-deps.sh)")
        workdir = self._workdir("gpufleet-prom-")
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(self.config()), encoding="utf-8")
        if self.rules_text is not None:
            (workdir / "rules.yaml").write_text(self.rules_text, encoding="utf-8")
        for _ in range(3):  # another process may take the free port before Prometheus binds it
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            self._spawn([binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
                         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d",
                         "--log.level=warn"], cwd=workdir)
            if self._wait_ready():
                return self
            self._terminate()
        tail = self.log_tail(2000)
        self.stop()
        raise RuntimeError(f"prometheus did not become ready: {tail}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                    if reply.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    # -- HTTP API ----------------------------------------------------------
    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as reply:
            body = json.loads(reply.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus API {path}: {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant vector: [{'metric': {...}, 'value': float}]."""
        data = self.api("query", query=expr)
        return [{"metric": r["metric"], "value": float(r["value"][1])} for r in data["result"]]

    def scalar(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        rows = self.query(expr)
        if len(rows) > 1:
            raise RuntimeError(f"{expr!r} returned {len(rows)} series, expected one")
        return rows[0]["value"] if rows else None

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]

    def rule_states(self) -> dict[str, str]:
        """alertname -> inactive | pending | firing (the most severe over its series)."""
        order = {"inactive": 0, "pending": 1, "firing": 2}
        states: dict[str, str] = {}
        for group in self.api("rules", type="alert")["groups"]:
            for rule in group["rules"]:
                state = rule.get("state", "inactive")
                if order[state] >= order.get(states.get(rule["name"], "inactive"), 0):
                    states[rule["name"]] = state
        return states

    def wait_for_target_up(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            active = self.api("targets")["activeTargets"]
            if active and all(t["health"] == "up" for t in active):
                return
            time.sleep(0.2)
        raise TimeoutError(f"targets not up within {timeout_s} s: {self.api('targets')['activeTargets']}")

"""The one small client the promotion uses to ask Prometheus (its HTTP API, `/api/v1/query[_range]`).

Two ways to reach it, behind one `get(path, params)`:

* `UrlTransport`: a base URL (`gpufleet:promotion.prometheus.url`, or the local
  rehearsal's own Prometheus), with the standard library's HTTP client;
* `KubeProxyTransport`: the in-cluster Service through the Kubernetes API
  server's service proxy (`/api/v1/namespaces/<ns>/services/<name>:<port>/proxy/...`),
  with the official client and the stack's kubeconfig output, so no port is
  opened and nothing is reachable from outside the cluster.

Every failure (network, HTTP status, a Prometheus `error` answer, an answer
that is not one number) raises `PrometheusError` with one line; the analysis
turns it into an `inconclusive` iteration, never a pass.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Params = Sequence[tuple[str, str]]


class PrometheusError(RuntimeError):
    """Prometheus could not answer a query usefully; str() is one line."""


class Transport(Protocol):
    where: str

    def get(self, path: str, params: Params, timeout_s: float) -> bytes:
        """GET `path` (e.g. 'api/v1/query') with query parameters; raise PrometheusError on any failure."""


class UrlTransport:
    """Prometheus at a base URL (http or https)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.where = self.base_url

    def get(self, path: str, params: Params, timeout_s: float) -> bytes:
        url = f"{self.base_url}/{path}?{urllib.parse.urlencode(list(params))}"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (http/https only, checked in config)
                return response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()[:500]
            raise PrometheusError(f"{self.where} answered HTTP {exc.code}: {_error_text(body)}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusError(f"cannot reach Prometheus at {self.where}: {reason}") from None


class KubeProxyTransport:
    """An in-cluster Prometheus Service through the API server (kubeconfig from the stack output)."""

    def __init__(self, kubeconfig: Mapping[str, Any], *, namespace: str, name: str, port: int) -> None:
        from kubernetes import client, config

        self._configuration = client.Configuration()
        config.load_kube_config_from_dict(dict(kubeconfig), client_configuration=self._configuration,
                                          persist_config=False)
        # The client's REST layer (TLS, client certificates, proxy settings of the kubeconfig); its
        # request(method, url, headers=..., _request_timeout=...) is the same in every supported version.
        self._rest = client.ApiClient(self._configuration).rest_client
        self._base = f"/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy"
        self.where = f"service {namespace}/{name}:{port} (Kubernetes API proxy)"

    def get(self, path: str, params: Params, timeout_s: float) -> bytes:
        from kubernetes.client.exceptions import ApiException

        url = f"{self._configuration.host}{self._base}/{path}?{urllib.parse.urlencode(list(params))}"
        headers = {"Accept": "application/json"}
        # auth_settings() refreshes exec/OIDC tokens; its key name differs between client versions
        for setting in self._configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        try:
            response = self._rest.request("GET", url, headers=headers, _request_timeout=timeout_s)
            data = response.data if response.data is not None else response.read()
        except ApiException as exc:  # older clients raise for non-2xx answers
            raise PrometheusError(f"{self.where} answered HTTP {exc.status}: {_error_text(exc.body)}") from None
        except Exception as exc:  # urllib3 and socket errors: one line, never a pass
            raise PrometheusError(f"cannot reach Prometheus at {self.where}: {exc}") from None
        if not 200 <= response.status <= 299:
            raise PrometheusError(f"{self.where} answered HTTP {response.status}: {_error_text(data)}")
        return data


def _error_text(body: bytes | str | None) -> str:
    """Prometheus's own `error` (or the API server's `message`) when the body is JSON, else the body's start."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        answer = json.loads(text)
        return str(answer.get("error") or answer.get("message") or text[:200])
    except (ValueError, AttributeError):
        return " ".join(text.split())[:200] or "(empty body)"


class PrometheusClient:
    """Instant and range queries that return plain numbers."""

    def __init__(self, transport: Transport, *, timeout_s: float = 10.0) -> None:
        self.transport = transport
        self.timeout_s = timeout_s

    @property
    def where(self) -> str:
        return self.transport.where

    def _data(self, path: str, params: Params) -> dict[str, Any]:
        raw = self.transport.get(path, params, self.timeout_s)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise PrometheusError(f"{self.where} did not answer JSON: {_error_text(raw)}") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error") if isinstance(answer, dict) else None
            raise PrometheusError(f"Prometheus rejected the query: {error or str(answer)[:200]}")
        return answer.get("data") or {}

    def query(self, expr: str, at: float) -> float | None:
        """The query's single value at `at` (unix seconds); None when it has no result (no data)."""
        data = self._data("api/v1/query", [("query", expr), ("time", f"{at:.3f}")])
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            return _number(result)
        if kind != "vector" or not isinstance(result, list):
            raise PrometheusError(f"expected one number, Prometheus answered a {kind}")
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(f"expected one series, Prometheus answered {len(result)} (aggregate the query)")
        return _number(result[0].get("value"))

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> list[tuple[float, float]]:
        """(time, value) points of a query that aggregates to one series (empty when there is no data)."""
        data = self._data("api/v1/query_range", [("query", expr), ("start", f"{start:.3f}"), ("end", f"{end:.3f}"),
                                                 ("step", f"{step_s:g}")])
        result = data.get("result") or []
        if len(result) > 1:
            raise PrometheusError(f"expected one series, Prometheus answered {len(result)} (aggregate the query)")
        values = result[0].get("values", []) if result else []
        points = [(float(t), _number([t, v])) for t, v in values]
        return [(t, v) for t, v in points if v is not None]

    def ready(self) -> None:
        """Raise PrometheusError unless a trivial query works (Prometheus up and answering)."""
        self.query("vector(1)", at=_now())


def _number(sample: Any) -> float | None:
    """A [timestamp, "value"] pair as a float; NaN (0/0: nothing to divide) becomes None.

    +Inf stays: histogram_quantile answers it when the quantile lies beyond the
    largest bucket, which is a (very bad) measurement, not missing data.
    """
    try:
        value = float(sample[1])
    except (TypeError, ValueError, IndexError):
        raise PrometheusError(f"Prometheus answered a value that is not a number: {sample!r}") from None
    return None if math.isnan(value) else value


def _now() -> float:
    import time

    return time.time()

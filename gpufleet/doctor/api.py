"""Where the doctor's API answers come from: recorded responses (tests, demo) or the live clouds.

Every check asks `api.call(service, operation, key, **params)`. Recorded answers
live in one directory, one JSON file per call named `<service>.<Operation>[.<key>].json`,
each the API's own response body (or `{"Error": {"Code": ..., "Message": ...}}`).
The live clients import their SDK only when used, so nothing here needs a
network or credentials to be tested.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol


class ApiError(RuntimeError):
    """The API answered with an error (NoSuchEntity, EntityNotExist.Role, RepositoryNotFound ...)."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


class DoctorUnavailable(RuntimeError):
    """The doctor cannot ask at all (no SDK/CLI, no credentials, no recording); one line."""


class Api(Protocol):
    def call(self, service: str, operation: str, key: str = "", **params: Any) -> dict[str, Any]: ...


def fixture_name(service: str, operation: str, key: str = "") -> str:
    safe = key.replace("/", "_").replace(":", "_")
    return f"{service}.{operation}" + (f".{safe}" if safe else "") + ".json"


class RecordedApi:
    """Replays recorded responses; a call with no recording is an error, never a guess."""

    def __init__(self, directory: Path):
        if not directory.is_dir():
            raise DoctorUnavailable(f"no recorded responses in {directory}")
        self.directory = directory
        self.asked: list[str] = []

    def call(self, service: str, operation: str, key: str = "", **params: Any) -> dict[str, Any]:
        name = fixture_name(service, operation, key)
        self.asked.append(name)
        path = self.directory / name
        if not path.exists():
            raise DoctorUnavailable(f"no recorded response {name} in {self.directory}")
        body = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(body, dict) and "Error" in body:
            raise ApiError(str(body["Error"].get("Code", "Error")), str(body["Error"].get("Message", "")))
        return body


class LiveAws:
    """boto3, with the usual credential chain (AWS_PROFILE, SSO, environment)."""

    def __init__(self, region: str):
        try:
            import boto3  # noqa: F401
        except ImportError:
            raise DoctorUnavailable("live AWS checks need boto3 (pip install boto3); "
                                    "or replay recorded responses with --recorded DIR") from None
        self.region = region

    def call(self, service: str, operation: str, key: str = "", **params: Any) -> dict[str, Any]:
        import boto3
        from botocore.exceptions import ClientError

        client = boto3.client(service, region_name=self.region)
        method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        try:
            return getattr(client, method)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise ApiError(str(error.get("Code", "Error")), str(error.get("Message", ""))) from None


class LiveAlicloud:
    """The `aliyun` CLI (credentials from its profile or ALIBABA_CLOUD_* variables): JSON in, JSON out."""

    def __init__(self, region: str):
        if shutil.which("aliyun") is None:
            raise DoctorUnavailable("live Alibaba Cloud checks need the aliyun CLI "
                                    "(https://github.com/aliyun/aliyun-cli); or replay with --recorded DIR")
        self.region = region

    def call(self, service: str, operation: str, key: str = "", **params: Any) -> dict[str, Any]:
        if service == "oss":  # the CLI's oss commands print text; list with the OSS SDK instead
            return self._oss_list(params["Bucket"], params["Prefix"])
        args = ["aliyun", service, operation, "--region", self.region]
        for name, value in params.items():
            args += [f"--{name}", str(value)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            text = (done.stderr or done.stdout).strip().splitlines()
            code = next((line.split(":", 1)[1].strip() for line in text if line.startswith("ErrorCode:")), "Error")
            raise ApiError(code, text[-1] if text else "")
        return json.loads(done.stdout or "{}")

    def _oss_list(self, bucket: str, prefix: str) -> dict[str, Any]:
        try:
            import os

            import oss2
        except ImportError:
            raise DoctorUnavailable("checking OSS weights live needs oss2 (pip install oss2)") from None
        auth = oss2.Auth(os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"], os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
        listing = oss2.ObjectIteratorV2(oss2.Bucket(auth, f"https://oss-{self.region}.aliyuncs.com", bucket),
                                        prefix=prefix)
        return {"Contents": [{"Key": o.key, "Size": o.size} for o in listing]}


# The live client per cloud (a recording replaces both in tests and the demo).
LIVE_CLIENTS: dict[str, type] = {"aws": LiveAws, "alicloud": LiveAlicloud}

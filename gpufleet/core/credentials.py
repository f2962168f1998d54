"""No cloud credential in a stack file in plaintext.

A stack file is committed to git and read by everyone who can read the
repository, so a provider credential key (`aws:secretKey`, `alicloud:accessKey`,
...) may only hold a `secure:` value, which Pulumi encrypts with the stack's
secrets provider. Better still is no key at all: both providers read the
standard credential chain (environment, profile, instance or pod role).

`looks_like_credential` is the value-side check the `no-plaintext-keys` policy
uses on every config value and resource input: AWS access key ids (AKIA/ASIA),
Alibaba Cloud AccessKey ids (LTAI) and PEM private-key blocks.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from gpufleet.core.errors import ConfigError

PROVIDERS = ("aws", "alicloud", "kubernetes")
# Provider config keys that carry a credential (pulumi_aws/pulumi_alicloud config/vars.py), plus the
# same words in any provider key, so a new provider option is covered without a list edit.
CREDENTIAL_KEYS = frozenset({
    "aws:accessKey", "aws:secretKey", "aws:token",
    "alicloud:accessKey", "alicloud:secretKey", "alicloud:securityToken",
})
_CREDENTIAL_NAME = re.compile(r"(?i)(access_?key|secret|security_?token|session_?token|^token$|password|"
                              r"private_?key|client_?key)")

# Values that are credentials whatever key holds them.
_VALUE_PATTERNS = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")),
    ("an Alibaba Cloud AccessKey id", re.compile(r"\bLTAI[A-Za-z0-9]{12,28}\b")),
    ("a PEM private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----")),
)


def is_credential_key(key: str) -> bool:
    namespace, _, name = key.partition(":")
    return key in CREDENTIAL_KEYS or (namespace in PROVIDERS and bool(_CREDENTIAL_NAME.search(name)))


def check_no_plaintext_credentials(raw: Mapping[str, Any], secret_placeholder: str) -> None:
    """ConfigError for the first provider credential key whose value is not a `secure:` secret."""
    for key in sorted(raw):
        if not is_credential_key(key):
            continue
        value = raw[key]
        if value == secret_placeholder or value is None:
            continue
        raise ConfigError(key, f"is a provider credential in plaintext; store it encrypted with "
                               f"`pulumi config set --secret {key} ...` or leave it out and let the provider "
                               "use its credential chain (environment, profile or instance role)")


def looks_like_credential(text: str) -> str | None:
    """What kind of credential `text` contains, or None."""
    for what, pattern in _VALUE_PATTERNS:
        if pattern.search(text):
            return what
    return None


def credential_values(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, kind) for every string inside `value` (maps and lists walked) that holds a credential."""
    if isinstance(value, str):
        kind = looks_like_credential(value)
        if kind:
            yield path, kind
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from credential_values(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from credential_values(v, f"{path}.{i}" if path else str(i))

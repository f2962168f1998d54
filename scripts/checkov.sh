#!/usr/bin/env bash
# Run checkov from its own virtualenv (.venv-checkov): checkov pins packaging<24,
# which conflicts with pulumi in the project's .venv. Creates the env on first
# use; all install output goes to stderr so `-o json` on stdout stays parseable.
#
#   scripts/checkov.sh -d DIR --framework kubernetes -o json
#
# CHECKOV_PYTHON picks the interpreter for the env (default: pyenv 3.11.7 when
# present, else python3). BC_SKIP_MAPPING keeps checkov offline.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CHECKOV_VENV:-$repo_root/.venv-checkov}"
spec='checkov>=3.2,<4'

if [[ -z "${CHECKOV_PYTHON:-}" ]]; then
  if [[ -x /root/.pyenv/versions/3.11.7/bin/python3 ]]; then
    CHECKOV_PYTHON=/root/.pyenv/versions/3.11.7/bin/python3
  else
    CHECKOV_PYTHON=python3
  fi
fi

if [[ ! -x "$venv/bin/checkov" ]]; then
  echo "creating $venv with $spec" >&2
  "$CHECKOV_PYTHON" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2
fi

export BC_SKIP_MAPPING="${BC_SKIP_MAPPING:-TRUE}"
exec "$venv/bin/checkov" --skip-download "$@"

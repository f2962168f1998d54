#!/usr/bin/env bash
# Set up the peer load generators for bench/client_capacity.py, idempotently:
#
#   .venv-guidellm/          GuideLLM (Python 3.11, CPU-only torch installed first)
#   .venv-inference-perf/    inference-perf (needs Python >= 3.12)
#   bench/peers/.cache/tokenizer/   offline tokenizer both load (make_tokenizer.py)
#
# Neither tool is a project dependency; each lives in its own environment
# (git-ignored). A second run only checks and does nothing when all is in
# place. Registries used: PyPI only (plus the pip find-links configured on the
# machine, where a CPU build of torch is expected).
#
# Usage: bash bench/peers/setup.sh [--force]
# Environment: PYTHON311 / PYTHON312 to pick the interpreters.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

GUIDELLM_VERSION="0.8.1"
INFERENCE_PERF_VERSION="0.7.0"
TORCH_VERSION="2.13.0"
CACHE="bench/peers/.cache"
TOKENIZER_DIR="$CACHE/tokenizer"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

log() { printf '[peers] %s\n' "$*"; }

find_python() {  # find_python MINOR ENVVAR: first interpreter of version 3.MINOR or newer
    local minor="$1" override="$2" candidate
    if [[ -n "${!override:-}" ]]; then echo "${!override}"; return; fi
    for candidate in "python3.$minor" "$HOME/.pyenv/versions/3.$minor."*/bin/python3 \
                     "/root/.pyenv/versions/3.$minor."*/bin/python3 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c "import sys; sys.exit(0 if sys.version_info[:2] >= (3, $minor) else 1)" 2>/dev/null; then
            command -v "$candidate"; return
        fi
    done
    return 1
}

installed_version() {  # installed_version VENV PACKAGE
    "$1/bin/python" - "$2" <<'EOF' 2>/dev/null || true
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass
EOF
}

make_venv() {  # make_venv DIR PYTHON
    if [[ $FORCE == 1 && -d "$1" ]]; then rm -rf "$1"; fi
    if [[ ! -x "$1/bin/python" ]]; then
        log "creating $1 with $2 ($("$2" --version 2>&1))"
        "$2" -m venv "$1"
        "$1/bin/python" -m pip install --quiet --upgrade pip
    fi
}

# -- GuideLLM ---------------------------------------------------------------
PY311="$(find_python 11 PYTHON311)" || { echo "error: no Python >= 3.11 found (set PYTHON311)" >&2; exit 1; }
make_venv .venv-guidellm "$PY311"
if [[ "$(installed_version .venv-guidellm torch)" != "$TORCH_VERSION"* ]]; then
    # torch first, so guidellm does not pull the ~6 GB CUDA build: pip prefers the
    # CPU wheel (2.13.0+cpu, a higher local version) from the machine's find-links
    # directory when it is there; otherwise this is the large PyPI download.
    log "installing torch==$TORCH_VERSION before guidellm"
    .venv-guidellm/bin/pip install --quiet "torch==$TORCH_VERSION"
    torch_installed="$(installed_version .venv-guidellm torch)"
    [[ "$torch_installed" == *+cpu ]] || log "note: torch $torch_installed is not a CPU-only build (no local CPU wheel)"
fi
if [[ "$(installed_version .venv-guidellm guidellm)" != "$GUIDELLM_VERSION" ]]; then
    log "installing guidellm==$GUIDELLM_VERSION"
    .venv-guidellm/bin/pip install --quiet "torch==$TORCH_VERSION" "guidellm==$GUIDELLM_VERSION"
fi

# -- inference-perf -----------------------------------------------------------
PY312="$(find_python 12 PYTHON312)" || { echo "error: inference-perf needs Python >= 3.12 (set PYTHON312)" >&2; exit 1; }
make_venv .venv-inference-perf "$PY312"
if [[ "$(installed_version .venv-inference-perf inference-perf)" != "$INFERENCE_PERF_VERSION" ]]; then
    log "installing inference-perf==$INFERENCE_PERF_VERSION"
    .venv-inference-perf/bin/pip install --quiet "inference-perf==$INFERENCE_PERF_VERSION"
fi

# -- offline tokenizer --------------------------------------------------------
# Rebuilt when missing or older than its inputs (builder, prompt files, simulator tokenizer).
stale=0
if [[ $FORCE == 1 || ! -f "$TOKENIZER_DIR/tokenizer.json" || ! -f "$TOKENIZER_DIR/corpus.txt" ]]; then
    stale=1
else
    for input in bench/peers/make_tokenizer.py gpufleet/tokens.py loadtests/prompts/*.txt; do
        if [[ "$input" -nt "$TOKENIZER_DIR/tokenizer.json" ]]; then stale=1; fi
    done
fi
if [[ $stale == 1 ]]; then
    log "building the offline tokenizer in $TOKENIZER_DIR"
    PYTHONPATH="$ROOT" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv-guidellm/bin/python bench/peers/make_tokenizer.py \
        --out "$TOKENIZER_DIR" --check
fi
# Both peers must load it offline with their own transformers.
for venv in .venv-guidellm .venv-inference-perf; do
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$venv/bin/python" - "$TOKENIZER_DIR" <<'EOF' 2>/dev/null
import sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
assert len(tok.encode("The cluster served tokens", add_special_tokens=False)) == 4
EOF
done

log "ready: guidellm $(installed_version .venv-guidellm guidellm), inference-perf $(installed_version .venv-inference-perf inference-perf), tokenizer $TOKENIZER_DIR"

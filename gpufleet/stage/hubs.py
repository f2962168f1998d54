"""Download a model snapshot and its published sha256s from ModelScope or the Hugging Face hub.

The hub SDKs are optional (`pip install modelscope` / `huggingface_hub`), imported
only here; China stacks use ModelScope so weights never cross the border.
"""

from __future__ import annotations

from pathlib import Path

from .weights import WANTED, StageError


def hub_for(jurisdiction: str) -> str:
    return "modelscope" if jurisdiction == "cn" else "huggingface"


def download(hub: str, repo_id: str, dest: Path) -> dict[str, str]:
    """Snapshot into `dest`; return {file: sha256} the hub publishes (LFS files)."""
    if hub == "huggingface":
        try:
            from huggingface_hub import HfApi, snapshot_download
        except ImportError:
            raise StageError("staging from Hugging Face needs huggingface_hub (pip install huggingface_hub)") from None
        snapshot_download(repo_id, local_dir=str(dest), allow_patterns=list(WANTED))
        info = HfApi().model_info(repo_id, files_metadata=True)
        return {s.rfilename: s.lfs.sha256 for s in info.siblings or [] if getattr(s, "lfs", None)
                and (dest / s.rfilename).exists()}
    if hub == "modelscope":
        try:
            from modelscope import snapshot_download
            from modelscope.hub.api import HubApi
        except ImportError:
            raise StageError("staging from ModelScope needs modelscope (pip install modelscope)") from None
        snapshot_download(repo_id, local_dir=str(dest), allow_patterns=list(WANTED))
        files = HubApi().get_model_files(repo_id, recursive=True)
        return {f["Path"]: f["Sha256"] for f in files if f.get("Sha256") and (dest / f["Path"]).exists()}
    raise StageError(f"unknown hub {hub!r} (allowed: huggingface, modelscope)")

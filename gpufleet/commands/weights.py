"""`gpufleet weights stage`: put a model's weights into the stack's bucket, verified by sha256."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="stage model weights into the stack's bucket")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    s = verbs.add_parser("stage", help="download (ModelScope in China, Hugging Face elsewhere), verify, upload",
                         description="Between the platform and the workloads phase: put a model's weights into "
                                     "<bucket>/models/<model>/ with a sha256 manifest. Exit 0 done, 1 a download, "
                                     "check or upload failed, 2 usage error.")
    s.add_argument("--stack", required=True, metavar="NAME")
    s.add_argument("--model", required=True, metavar="NAME", help="a model of the catalog a release of the stack serves")
    s.add_argument("--from", dest="source_dir", type=Path, metavar="DIR", help="use an already downloaded snapshot")
    s.add_argument("--bucket", metavar="URL", help="s3://, oss:// or file:// (default: the platform's weightsBucketUrl)")
    s.add_argument("--outputs", type=Path, metavar="FILE", help="the platform stack's `pulumi stack output --json`")
    s.add_argument("--root", type=Path, default=None, metavar="DIR")
    s.set_defaults(func=run)


def _fail(stack: str, message: str, code: int) -> int:
    print(f"gpufleet: stack '{stack}': {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from gpufleet.commands._platform_outputs import NoOutputs, platform_outputs
    from gpufleet.core.config import load_stack
    from gpufleet.core.project import find_project
    from gpufleet.core.errors import StackConfigError
    from gpufleet.core.model_catalog import load_model_catalog
    from gpufleet.stage.hubs import download, hub_for
    from gpufleet.stage.weights import StageError, bucket_for, build_manifest, check_published, upload

    try:
        cfg = load_stack(args.stack, root=args.root)
    except StackConfigError as exc:
        print(f"gpufleet: {exc}", file=sys.stderr)
        return EXIT_USAGE
    served = sorted({r.model for r in cfg.releases.values()})
    if args.model not in served:
        return _fail(args.stack, f"--model: {args.model!r} is served by no release (allowed: {', '.join(served)})",
                     EXIT_USAGE)
    try:
        url = args.bucket or platform_outputs(args.stack, args.outputs, find_project(args.root).root)["weightsBucketUrl"]
    except (NoOutputs, KeyError) as exc:
        return _fail(args.stack, f"no weights bucket: {exc}", EXIT_USAGE)
    entry = load_model_catalog().model(args.model)
    hub = hub_for(cfg.jurisdiction)
    repo = entry.modelscope_id if hub == "modelscope" else entry.huggingface_id
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory, published = (args.source_dir, {}) if args.source_dir else (Path(tmp), download(hub, repo, Path(tmp)))
            manifest = build_manifest(args.model, f"{hub}:{repo}" if not args.source_dir else str(args.source_dir),
                                      directory)
            check_published(manifest, published)
            prefix = upload(manifest, directory, bucket_for(url, cfg.region))
    except StageError as exc:
        return _fail(args.stack, f"weights stage: {exc}", EXIT_FAIL)
    total = sum(f["size"] for f in manifest["files"].values())
    print(f"{args.stack}: {len(manifest['files'])} files ({total} bytes) of {args.model} in {url.rstrip('/')}/{prefix}, "
          "sha256 manifest written")
    return EXIT_OK

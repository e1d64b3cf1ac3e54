"""`minichat inference`: the inference plane (OpenAI-compatible) under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from minichat_cli.serving import add_server_arguments, serve


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inference",
        help="run the inference plane (OpenAI-compatible chat completions)",
        description=(
            "Run the MiniChat inference plane. INFERENCE_BACKEND picks embedded (default: the "
            "bundled Gemma 3 270M on the CPU), openai (needs INFERENCE_UPSTREAM_URL) or scripted."
        ),
    )
    add_server_arguments(parser, default_port=8001)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from minichat_inference.main import create_app
    from minichat_inference.settings import InferenceSettings

    settings = InferenceSettings.load()
    return serve(create_app(settings), args, settings)

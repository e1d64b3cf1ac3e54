"""`minichat inference`: the inference plane (OpenAI-compatible) under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from minichat.settings import get_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inference",
        help="run the inference plane (OpenAI-compatible chat completions)",
        description=(
            "Run the MiniChat inference plane. INFERENCE_BACKEND picks embedded (default: the "
            "bundled Gemma 3 270M on the CPU), openai (needs INFERENCE_UPSTREAM_URL) or scripted."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8001, help="port to bind (default: %(default)s)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from minichat_inference.main import create_app

    settings = get_settings()
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    return 0

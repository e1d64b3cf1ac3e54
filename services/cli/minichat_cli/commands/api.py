"""`minichat api`: the control plane under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from minichat.settings import get_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "api",
        help="run the api (auth, chats, messages, generations)",
        description="Run the MiniChat api. Needs DATABASE_URL and JWT_SECRET.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to bind (default: %(default)s)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from minichat_api.main import create_app

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

"""`minichat api`: the control plane under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from minichat_cli.serving import add_server_arguments, serve


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "api",
        help="run the api (auth, chats, messages, generations)",
        description=(
            "Run the MiniChat api. Needs DATABASE_URL, JWT_SECRET, REDIS_URL, INFERENCE_URL "
            "and, while the outbox relay runs inside it (RELAY_IN_API, the default), BROKER_URL."
        ),
    )
    add_server_arguments(parser, default_port=8000)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from minichat_api.main import create_app
    from minichat_api.settings import ApiSettings

    settings = ApiSettings.load()
    return serve(create_app(settings), args, settings)

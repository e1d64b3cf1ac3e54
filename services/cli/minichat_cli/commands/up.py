"""`minichat up`: everything on this machine, embedded defaults, one command."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from minichat_cli import allinone
from minichat_cli.serving import add_server_arguments


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "up",
        help="run all of MiniChat here (web UI, api, model, events) with embedded defaults",
        description=(
            "Run MiniChat in one process tree: SQLite, in-process streams and events, the "
            "embedded Gemma model and the web UI on one port. Any of DATABASE_URL, REDIS_URL, "
            "BROKER_URL, INFERENCE_URL set in the environment is used instead of its default."
        ),
    )
    add_server_arguments(parser, default_port=8000)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where data is kept across restarts (default: {allinone.default_data_dir()})",
    )
    parser.set_defaults(handler=run)


def _stop_children_on_sigterm() -> None:
    """uvicorn raises SIGTERM again once it has shut down; its default action would end this
    process on the spot, leaving the model server running with nobody to stop it. As an
    exception it unwinds through the children's `finally`, which stops them."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def run(args: argparse.Namespace) -> int:
    from minichat_api.settings import ApiSettings

    _stop_children_on_sigterm()

    data_dir: Path = (args.data_dir or allinone.default_data_dir()).expanduser().resolve()
    given = allinone.AllInOneSettings.load()
    # Before anything slow: a taken port is one line, not a traceback minutes later.
    listening = allinone.claim_port(args.host, args.port)
    with listening:
        defaults = allinone.embedded_defaults(given, data_dir)
        print(f"==> MiniChat all-in-one, data in {data_dir}", flush=True)
        allinone.run_migrations(given.database_url or str(defaults["database_url"]))
        if given.inference_url:
            asyncio.run(allinone.serve_api(ApiSettings.load(**defaults), listening))
            return 0
        with allinone.inference_process(given.inference_backend, data_dir) as inference:
            settings = ApiSettings.load(**defaults, inference_url=inference.url)
            readiness = {"inference": lambda: inference.ready}
            asyncio.run(allinone.serve_api(settings, listening, readiness))
    return 0

"""What the long-running commands share: --host/--port flags, uvicorn, and the event loop."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Coroutine
from types import FrameType
from typing import Any, TypeVar

from minichat import tracing
from minichat.settings import CommonSettings

T = TypeVar("T")


def add_server_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=default_port, help="port to bind (default: %(default)s)"
    )


def serve(app: Any, args: argparse.Namespace, settings: CommonSettings) -> int:
    import uvicorn

    if tracing.enabled():
        # uvicorn ends a graceful stop by raising SIGTERM again, which kills the process
        # before exit handlers run: the last spans (the runs it relinquished) would be lost.
        signal.signal(signal.SIGTERM, _export_then_die)

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        # JSON lines: uvicorn's records go through the root logger's formatter, not its own.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        proxy_headers=True,
        # Longer than the usual load-balancer idle timeout (60 s), so the proxy, not uvicorn,
        # closes idle connections: no request is sent on a socket being closed.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
    )
    return 0


def _export_then_die(signum: int, _frame: FrameType | None) -> None:
    tracing.shutdown()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop where it is installed, as uvicorn runs the api, else on asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)

"""What the long-running commands share: --host/--port flags, uvicorn, and the event loop."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

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

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        # Longer than the usual load-balancer idle timeout (60 s), so the proxy, not uvicorn,
        # closes idle connections: no request is sent on a socket being closed.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
    )
    return 0


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop where it is installed, as uvicorn runs the api, else on asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)

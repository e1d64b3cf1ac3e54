"""What every HTTP deployable's command shares: --host/--port flags and running under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from minichat.settings import Settings


def add_server_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=default_port, help="port to bind (default: %(default)s)"
    )


def serve(app: Any, args: argparse.Namespace, settings: Settings) -> int:
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

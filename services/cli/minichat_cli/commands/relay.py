"""`minichat relay`: the outbox relay as its own process (when RELAY_IN_API=false)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING, Any

from minichat.db.session import create_engine
from minichat_cli.serving import run_event_loop

if TYPE_CHECKING:
    from minichat_api.settings import RelaySettings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "relay",
        help="run the outbox relay (outbox rows -> RabbitMQ)",
        description="Publish committed outbox rows to RabbitMQ. Needs DATABASE_URL, BROKER_URL.",
    )
    parser.set_defaults(handler=run)


def run(_args: argparse.Namespace) -> int:
    from minichat_api.settings import RelaySettings

    run_event_loop(_relay(RelaySettings.load()))
    return 0


async def _relay(settings: RelaySettings) -> None:
    from minichat_api.outbox.relay import OutboxRelay

    if settings.relay_metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.relay_metrics_port)
    engine = create_engine(settings.database_url, pool_size=2)
    relay = OutboxRelay(engine, settings.broker_url, **settings.relay_options())
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await relay.start()
    try:
        await stopping.wait()
    finally:
        with contextlib.suppress(Exception):
            await relay.stop()
        await engine.dispose()

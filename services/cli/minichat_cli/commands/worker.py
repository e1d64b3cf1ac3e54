"""`minichat worker`: the Celery worker that turns events into aggregates."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="run the event worker (usage aggregates, audit log)",
        description="Run the MiniChat Celery worker. Needs DATABASE_URL and BROKER_URL.",
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="threads (default: WORKER_CONCURRENCY)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from minichat_worker.settings import WorkerSettings

    settings = WorkerSettings.load()
    if args.concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": max(1, args.concurrency)})

    from prometheus_client import start_http_server

    from minichat_worker.app import connect_store, create_app, declare_dead_letters
    from minichat_worker.pruning import ProcessedEventPruner

    store = connect_store(settings)
    app = create_app(settings, store)
    if settings.worker_metrics_port is not None:
        start_http_server(settings.worker_metrics_port)
    declare_dead_letters(app)
    pruner = ProcessedEventPruner(store, settings.processed_event_retention).start()
    try:
        app.worker_main(
            [
                "worker",
                f"--loglevel={settings.log_level.upper()}",
                "--hostname=minichat@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        pruner.stop()
    return 0

"""Events per second from outbox insert to aggregate applied: relay -> RabbitMQ -> one worker.

Runs on a scratch database and a scratch RabbitMQ vhost of its own (both removed at the end),
with the real relay in this process (on uvloop, as in the api) and one real `minichat worker`
process, and checks that the aggregates are exact.
Usage: .venv/bin/python bench/events.py [--events 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minichat.contracts.events import EVENTS_QUEUE, UsageEvent
from minichat.db import migrate
from minichat.db.session import create_engine, create_session_factory
from minichat.outbox import add_event
from minichat.statuses import GenerationStatus
from minichat_api.outbox.relay import OutboxRelay
from minichat_cli.serving import run_event_loop
from minichat_worker.settings import WorkerSettings
from tests.conftest import POSTGRES_ADMIN_URL, RABBITMQ_URL, ScratchDatabases

INSERT_BATCH = 1000
STATUSES = (GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.CANCELED)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], capture_output=True, check=True, timeout=60)


async def insert_events(database_url: str, users: list[uuid.UUID], total: int) -> None:
    """The api's way: add_event in a transaction, INSERT_BATCH events per commit."""
    engine = create_engine(database_url, pool_size=2)
    sessions = create_session_factory(engine)
    now = datetime.now(UTC)
    for start in range(0, total, INSERT_BATCH):
        async with sessions() as session:
            for i in range(start, min(total, start + INSERT_BATCH)):
                add_event(
                    session,
                    UsageEvent(
                        occurred_at=now,
                        user_id=users[i % len(users)],
                        chat_id=users[0],
                        generation_id=uuid.uuid4(),
                        model=f"model-{i % 3}",
                        status=STATUSES[i % 3],
                        prompt_tokens=i % 100,
                        completion_tokens=i % 37,
                        ttft_ms=None if i % 3 == 2 else 10.0,
                        duration_ms=100.0,
                    ),
                )
            await session.commit()
    await engine.dispose()


async def measure(database_url: str, broker_url: str, total: int, batch: int) -> float:
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    users = [uuid.uuid4() for _ in range(50)]
    engine = create_engine(database_url, pool_size=2)
    relay = OutboxRelay(engine, broker_url, batch_size=batch, poll_interval=0.01)
    await relay.start()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
        started = time.perf_counter()
        await insert_events(database_url, users, total)
        inserted = time.perf_counter() - started
        published = None
        while True:
            if published is None:
                unsent = await (
                    await db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                ).fetchone()
                if unsent is not None and unsent[0] == 0:
                    published = time.perf_counter() - started
            row = await (
                await db.execute("SELECT coalesce(sum(requests), 0) FROM usage_daily")
            ).fetchone()
            if row is not None and row[0] >= total:
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        await relay.stop()
        await engine.dispose()
        expected = (total, sum(i % 100 for i in range(total)), sum(i % 37 for i in range(total)))
        row = await (
            await db.execute(
                "SELECT sum(requests), sum(prompt_tokens), sum(completion_tokens) FROM usage_daily"
            )
        ).fetchone()
        exact = row is not None and tuple(int(v) for v in row) == expected
    print(f"events:                {total}")
    print(f"outbox inserts done:   {inserted:.2f} s ({total / inserted:,.0f} events/s)")
    if published is not None:
        print(f"insert -> all sent:    {published:.2f} s (relay: {total / published:,.0f}/s)")
    print(f"insert -> applied:     {elapsed:.2f} s")
    print(f"throughput:            {total / elapsed:,.0f} events/s (relay batch {batch}, 1 worker)")
    print(f"aggregates exact:      {exact} {row} expected {expected}")
    if not exact:
        raise SystemExit(1)
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="relay batch size")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=WorkerSettings.model_fields["worker_concurrency"].default,
        help="worker threads (WORKER_CONCURRENCY)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs, each from scratch; the median is the figure"
    )
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()} (shared machine: other work may be running)")
    results = []
    for number in range(1, args.runs + 1):
        print(f"\nrun {number} of {args.runs}")
        results.append(one_run(args))
    runs = ", ".join(f"{r:,.0f}" for r in results)
    print(f"\nmedian of {args.runs} runs: {statistics.median(results):,.0f} events/s ({runs})")


def one_run(args: argparse.Namespace) -> float:
    """A scratch database, vhost and worker process of its own; the events/s it measured."""
    run = uuid.uuid4().hex[:8]
    vhost = f"minichat-bench-{run}"
    databases = ScratchDatabases(POSTGRES_ADMIN_URL, prefix="minichat_bench")
    database_url = databases.create("events", migrated=False)
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    broker_url = f"{RABBITMQ_URL}/{vhost}"
    worker: subprocess.Popen[bytes] | None = None
    try:
        migrate.upgrade(database_url, report=lambda _line: None)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "WORKER_CONCURRENCY": str(args.concurrency),
            "LOG_LEVEL": "WARNING",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "minichat_cli.main", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_consuming(worker, vhost)
        return run_event_loop(measure(database_url, broker_url, args.events, args.batch))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        rabbitmqctl("delete_vhost", vhost)
        databases.drop_all()


def wait_consuming(worker: subprocess.Popen[bytes], vhost: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit("the worker exited; run `minichat worker` by hand to see why")
        listed = subprocess.run(
            [
                "rabbitmqctl",
                "list_queues",
                "-p",
                vhost,
                "name",
                "consumers",
                "--formatter",
                "json",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        if any(
            q["name"] == EVENTS_QUEUE and q["consumers"] for q in json.loads(listed.stdout or "[]")
        ):
            return
        time.sleep(0.2)
    raise SystemExit("the worker did not start consuming")


if __name__ == "__main__":
    main()

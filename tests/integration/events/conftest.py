"""Fixtures for the event pipeline: real worker processes, an in-process relay, broker probes.

The events tests use a database of their own, so outbox backlogs and aggregates they read are
exactly theirs; they share the run's RabbitMQ vhost (tests/conftest.py) and start a worker per
test, so no other worker takes their messages.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from minichat.contracts.events import UsageEvent
from minichat.db import migrate
from minichat.db.models import UsageDaily
from minichat.db.session import create_engine, create_session_factory
from minichat.outbox import add_event
from minichat.statuses import GenerationStatus
from minichat_api.outbox.relay import OutboxRelay
from minichat_worker.aggregates import EventStore
from tests.conftest import BROKER_VHOST, ScratchDatabases, rabbitmqctl
from tests.processes import MINICHAT, stop

WORKER_START_SECONDS = 60


@dataclass
class Worker:
    """A `minichat worker` process; it has no port, so its log says when it is ready."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def run_worker(env: dict[str, str], log_dir: Path, name: str = "worker") -> Iterator[Worker]:
    log = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*MINICHAT, "worker"],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log)
    try:
        deadline = time.monotonic() + WORKER_START_SECONDS
        while "ready." not in worker.output():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{worker.output()}")
            time.sleep(0.05)
        yield worker
    finally:
        stop(process)


@pytest.fixture(scope="session")
def events_database_url(test_databases: ScratchDatabases) -> str:
    return test_databases.create("events")


@pytest.fixture(scope="session")
def sqlite_events_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The all-in-one mode's database: a SQLite file, through the same migrations."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('events') / 'minichat.db'}"
    migrate.upgrade(url, report=lambda _line: None)
    return url


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    """An EventStore on each database the events can live in: the test runs once per database."""
    fixture = "events_database_url" if request.param == "postgresql" else "sqlite_events_url"
    store = EventStore.connect(request.getfixturevalue(fixture), pool_size=4)
    yield store
    store.close()


def usage_totals(engine: Engine, user_id: uuid.UUID) -> tuple[int, int]:
    """The user's requests and prompt tokens over all days and models, on either database."""
    query = select(
        func.coalesce(func.sum(UsageDaily.requests), 0),
        func.coalesce(func.sum(UsageDaily.prompt_tokens), 0),
    ).where(UsageDaily.user_id == user_id)
    with engine.connect() as connection:
        requests, prompt_tokens = connection.execute(query).one()
    return int(requests), int(prompt_tokens)


@pytest.fixture
def worker_env(events_database_url: str, broker_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": events_database_url,
        "BROKER_URL": broker_url,
        "WORKER_CONCURRENCY": "4",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    with run_worker(worker_env, tmp_path) as process:
        yield process


@pytest.fixture
async def engine(events_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(events_database_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@asynccontextmanager
async def running_relay(engine: AsyncEngine, broker_url: str) -> AsyncIterator[OutboxRelay]:
    """A relay in this event loop that polls often and reconnects fast after an outage."""
    relay = OutboxRelay(engine, broker_url, batch_size=200, poll_interval=0.02, max_backoff=0.3)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


@pytest.fixture
async def relay(engine: AsyncEngine, broker_url: str) -> AsyncIterator[OutboxRelay]:
    async with running_relay(engine, broker_url) as running:
        yield running


@pytest.fixture
async def db_events(events_database_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A direct autocommit connection to the events database, to arrange or inspect rows."""
    url = events_database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        yield connection


def usage_event(user_id: uuid.UUID, **values: Any) -> UsageEvent:
    fields: dict[str, Any] = {
        "user_id": user_id,
        "chat_id": uuid.uuid4(),
        "generation_id": uuid.uuid4(),
        "model": "scripted",
        "status": GenerationStatus.SUCCEEDED,
        "prompt_tokens": 7,
        "completion_tokens": 11,
        "ttft_ms": 12.5,
        "duration_ms": 250.0,
        "occurred_at": datetime.now(UTC),
    }
    fields.update(values)
    return UsageEvent(**fields)


async def add_events(sessions: async_sessionmaker[AsyncSession], events: list[UsageEvent]) -> None:
    """Write events to the outbox the way the api does: add_event, then commit."""
    async with sessions() as session:
        for event in events:
            add_event(session, event)
        await session.commit()


def queue_depths() -> dict[str, int]:
    """Messages per queue in the run's vhost, ready and unacknowledged together."""
    listed = rabbitmqctl(
        "list_queues", "-p", BROKER_VHOST, "name", "messages", "--formatter", "json", "--quiet"
    )
    assert listed.returncode == 0, listed.stderr
    return {queue["name"]: int(queue["messages"]) for queue in json.loads(listed.stdout or "[]")}


async def queue_drained(name: str) -> bool:
    return (await asyncio.to_thread(queue_depths)).get(name, 0) == 0


async def requests_of(db: psycopg.AsyncConnection, user_id: uuid.UUID) -> int:
    cursor = await db.execute(
        "SELECT coalesce(sum(requests), 0) FROM usage_daily WHERE user_id = %s", (user_id,)
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def outbox_row_sent(db: psycopg.AsyncConnection, event_id: uuid.UUID) -> bool:
    cursor = await db.execute("SELECT sent_at IS NOT NULL FROM outbox WHERE id = %s", (event_id,))
    row = await cursor.fetchone()
    return bool(row and row[0])

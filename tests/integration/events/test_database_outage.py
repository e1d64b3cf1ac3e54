"""A database the worker cannot reach is retried with backoff; the event arrives once after."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.conftest import POSTGRES_ADMIN_URL
from tests.eventually import eventually
from tests.integration.events.conftest import (
    add_events,
    outbox_row_sent,
    requests_of,
    run_worker,
    running_relay,
    usage_event,
)


async def test_the_worker_retries_until_the_database_is_back(
    worker_env: dict[str, str],
    tmp_path: Path,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    db_events: psycopg.AsyncConnection,
    broker_url: str,
) -> None:
    user_id = uuid.uuid4()
    event = usage_event(user_id)
    async with running_relay(engine, broker_url):
        await add_events(sessions, [event])
        await eventually(
            lambda: outbox_row_sent(db_events, event.event_id), "the event to be published"
        )
    await engine.dispose()
    name = (await (await db_events.execute("SELECT current_database()")).fetchone() or [""])[0]
    allow = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
    async with await psycopg.AsyncConnection.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        await admin.execute(allow.format(sql.Identifier(name), sql.SQL("false")))
        try:
            with run_worker(worker_env, tmp_path, "patient") as worker:
                await eventually(
                    lambda: "database unavailable" in worker.output(),
                    "the worker to meet the outage",
                )
                assert await requests_of(db_events, user_id) == 0
                await admin.execute(allow.format(sql.Identifier(name), sql.SQL("true")))
                await eventually(lambda: _one(db_events, user_id), "the retried event")
        finally:
            await admin.execute(allow.format(sql.Identifier(name), sql.SQL("true")))
    assert await requests_of(db_events, user_id) == 1


async def _one(db: psycopg.AsyncConnection, user_id: uuid.UUID) -> bool:
    return await requests_of(db, user_id) == 1

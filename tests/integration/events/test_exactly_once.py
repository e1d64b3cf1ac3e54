"""An event is applied once however often it arrives: republished, or redelivered after a kill."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import psycopg
from celery import Celery
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.contracts.events import (
    EVENTS_EXCHANGE,
    EVENTS_QUEUE,
    EVENTS_ROUTING_KEY,
    USAGE_EVENT_TASK,
    UsageEvent,
)
from minichat.statuses import GenerationStatus
from minichat_api.outbox.relay import OutboxRelay
from minichat_worker.aggregates import utc_day
from tests.eventually import eventually
from tests.integration.events.conftest import (
    Worker,
    add_events,
    outbox_row_sent,
    queue_drained,
    requests_of,
    run_worker,
    usage_event,
)


async def test_an_event_published_twice_is_counted_once(
    worker: Worker,  # noqa: ARG001 - applies the events
    relay: OutboxRelay,  # noqa: ARG001 - publishes what the test writes to the outbox
    sessions: async_sessionmaker[AsyncSession],
    db_events: psycopg.AsyncConnection,
) -> None:
    user_id = uuid.uuid4()
    event = usage_event(user_id, prompt_tokens=5, completion_tokens=9)
    await add_events(sessions, [event])
    await eventually(
        lambda: outbox_row_sent(db_events, event.event_id), "the relay to send the event"
    )
    await eventually(lambda: _applied(db_events, user_id, 1), "the worker to apply the event")

    # As if a relay died after the broker's confirm but before its commit: sent again.
    await db_events.execute("UPDATE outbox SET sent_at = NULL WHERE id = %s", (event.event_id,))
    await eventually(
        lambda: outbox_row_sent(db_events, event.event_id), "the relay to send it again"
    )
    await eventually(lambda: queue_drained(EVENTS_QUEUE), "the worker to consume both copies")

    cursor = await db_events.execute(
        "SELECT requests, prompt_tokens, completion_tokens, succeeded FROM usage_daily "
        "WHERE user_id = %s",
        (user_id,),
    )
    assert await cursor.fetchall() == [(1, 5, 9, 1)]
    cursor = await db_events.execute("SELECT attempts FROM outbox WHERE id = %s", (event.event_id,))
    assert await cursor.fetchone() == (2,)
    cursor = await db_events.execute(
        "SELECT count(*) FROM processed_events WHERE event_id = %s", (event.event_id,)
    )
    assert await cursor.fetchone() == (1,)


async def test_events_sent_by_celery_itself_apply_once_on_either_path(
    worker: Worker,  # noqa: ARG001 - applies the events
    broker_url: str,
    db_events: psycopg.AsyncConnection,
) -> None:
    """A plain send is batched straight from the consumer; a countdown takes Celery's own path."""
    user_id = uuid.uuid4()
    plain = usage_event(user_id, prompt_tokens=1)
    delayed = usage_event(user_id, prompt_tokens=2)
    client = Celery(broker=broker_url, set_as_current=False)

    def send(event: UsageEvent, **options: float) -> None:
        client.send_task(
            USAGE_EVENT_TASK,
            args=[event.model_dump(mode="json")],
            exchange=EVENTS_EXCHANGE,
            routing_key=EVENTS_ROUTING_KEY,
            **options,
        )

    try:
        for event, options in ((plain, {}), (plain, {}), (delayed, {"countdown": 0.5})):
            await asyncio.to_thread(send, event, **options)
    finally:
        client.close()
    await eventually(lambda: _applied(db_events, user_id, 2), "both events to be applied")
    await eventually(lambda: queue_drained(EVENTS_QUEUE), "the worker to consume every copy")
    cursor = await db_events.execute(
        "SELECT sum(requests), sum(prompt_tokens) FROM usage_daily WHERE user_id = %s", (user_id,)
    )
    assert await cursor.fetchone() == (2, 3)


async def _applied(db: psycopg.AsyncConnection, user_id: uuid.UUID, requests: int) -> bool:
    return await requests_of(db, user_id) == requests


async def _worker_waits_on_lock(db: psycopg.AsyncConnection) -> bool:
    cursor = await db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE %s",
        ("%INSERT INTO usage_daily%",),
    )
    row = await cursor.fetchone()
    return bool(row and row[0] > 0)


async def test_a_worker_killed_mid_task_loses_nothing_and_applies_once(
    worker_env: dict[str, str],
    tmp_path: Path,
    relay: OutboxRelay,  # noqa: ARG001 - publishes what the test writes to the outbox
    sessions: async_sessionmaker[AsyncSession],
    db_events: psycopg.AsyncConnection,
    events_database_url: str,
) -> None:
    user_id = uuid.uuid4()
    event = usage_event(user_id, status=GenerationStatus.CANCELED, completion_tokens=3)
    url = events_database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    # Hold the aggregate row's key in an open transaction: the worker's task blocks on it,
    # half-way through its own transaction, which is where we kill it.
    async with await psycopg.AsyncConnection.connect(url) as blocker:
        await blocker.execute(
            "INSERT INTO usage_daily (user_id, day, model, requests, prompt_tokens, "
            "completion_tokens, succeeded, failed, canceled, ttft_ms_sum, ttft_count, "
            "duration_ms_sum) VALUES (%s, %s, %s, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
            (user_id, utc_day(event.occurred_at), event.model),
        )
        with run_worker(worker_env, tmp_path, "doomed") as doomed:
            await add_events(sessions, [event])
            await eventually(lambda: _worker_waits_on_lock(db_events), "the task to be mid-way")
            os.killpg(doomed.process.pid, signal.SIGKILL)
            await asyncio.to_thread(doomed.process.wait, 15)
        await blocker.rollback()

    with run_worker(worker_env, tmp_path, "survivor"):
        await eventually(lambda: _applied(db_events, user_id, 1), "the redelivered event")
        await eventually(lambda: queue_drained(EVENTS_QUEUE), "the queue to drain")
    cursor = await db_events.execute(
        "SELECT requests, completion_tokens, canceled, succeeded FROM usage_daily "
        "WHERE user_id = %s",
        (user_id,),
    )
    assert await cursor.fetchall() == [(1, 3, 1, 0)]

"""Old rows are pruned in batches: outbox rows sent before the relay's retention period, and
processed event ids older than the worker's; everything newer, and every unsent row, stays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from minichat.db.models import OutboxEvent, ProcessedEvent
from minichat.db.pruning import PRUNE_BATCH
from minichat.db.session import create_engine
from minichat_api.outbox.local import LocalPublisher
from minichat_api.outbox.relay import OutboxRelay
from minichat_worker.aggregates import EventStore
from minichat_worker.pruning import ProcessedEventPruner
from tests.eventually import eventually_blocking
from tests.integration.events.conftest import run_worker, usage_event

DAY = timedelta(days=1)


@pytest.fixture(params=["postgresql", "sqlite"])
def any_database_url(request: pytest.FixtureRequest) -> str:
    fixture = "events_database_url" if request.param == "postgresql" else "sqlite_events_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def any_engine(any_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(any_database_url)
    yield engine
    await engine.dispose()


async def _outbox_rows(
    engine: AsyncEngine, count: int, *, sent_at: datetime | None
) -> set[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    rows: list[dict[str, Any]] = [
        {
            "id": i,
            "event_type": "usage_event",
            "payload": {},
            "created_at": datetime.now(UTC) - 3 * DAY,
            "sent_at": sent_at,
            "attempts": 1,
        }
        for i in ids
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(OutboxEvent), rows)
    return set(ids)


async def _kept(engine: AsyncEngine, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    async with engine.connect() as connection:
        found = await connection.scalars(select(OutboxEvent.id).where(OutboxEvent.id.in_(ids)))
        return set(found)


async def test_sent_outbox_rows_past_the_retention_are_pruned_in_batches(
    any_engine: AsyncEngine,
) -> None:
    now = datetime.now(UTC)
    old = await _outbox_rows(any_engine, 2 * PRUNE_BATCH + 7, sent_at=now - 2 * DAY)
    recent = await _outbox_rows(any_engine, 5, sent_at=now - DAY / 2)
    unsent = await _outbox_rows(any_engine, 5, sent_at=None)
    relay = OutboxRelay(any_engine, LocalPublisher(lambda _messages: None), retention=DAY)

    await relay.prune_sent()

    assert await _kept(any_engine, old) == set()
    assert await _kept(any_engine, recent | unsent) == recent | unsent
    assert await relay.prune_sent() == 0


def _age_ids(store: EventStore, ids: list[uuid.UUID], age: timedelta) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.event_id.in_(ids))
            .values(processed_at=datetime.now(UTC) - age)
        )


def _still_known(store: EventStore, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    query = select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(ids))
    with store.engine.connect() as connection:
        return set(connection.scalars(query))


def test_processed_event_ids_past_the_retention_are_pruned(store: EventStore) -> None:
    user = uuid.uuid4()
    old = [usage_event(user) for _ in range(PRUNE_BATCH + 3)]
    recent = [usage_event(user) for _ in range(3)]
    store.apply_usage_batch(old + recent)
    _age_ids(store, [e.event_id for e in old], 8 * DAY)

    pruner = ProcessedEventPruner(store, 7 * DAY)
    pruner.prune_once()

    assert pruner.prune_once() == 0
    assert _still_known(store, [e.event_id for e in old + recent]) == {e.event_id for e in recent}
    # Within the retention a redelivery is still recognised.
    assert not store.apply_usage(recent[0])


def test_the_worker_prunes_old_event_ids_as_it_starts(
    worker_env: dict[str, str], events_database_url: str, tmp_path: Path
) -> None:
    store = EventStore.connect(events_database_url, pool_size=1)
    try:
        event = usage_event(uuid.uuid4())
        store.apply_usage_batch([event])
        _age_ids(store, [event.event_id], 2 * DAY)
        env = {**worker_env, "PROCESSED_EVENT_RETENTION_HOURS": "24"}
        with run_worker(env, tmp_path):
            eventually_blocking(
                lambda: not _still_known(store, [event.event_id]), "the worker's pruner", within=30
            )
    finally:
        store.close()

"""Batched usage events on the real database: duplicates count once, bad data sinks only itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy.exc import DataError

from minichat.contracts.events import UsageEvent
from minichat_worker.aggregates import EventStore
from minichat_worker.batching import UsageBatcher
from tests.integration.events.conftest import requests_of, usage_event


@pytest.fixture
def store(events_database_url: str) -> Iterator[EventStore]:
    store = EventStore.connect(events_database_url, pool_size=2)
    yield store
    store.close()


async def test_concurrent_events_batch_exactly(
    store: EventStore, db_events: psycopg.AsyncConnection
) -> None:
    user_id = uuid.uuid4()
    events = [usage_event(user_id, prompt_tokens=i) for i in range(200)]
    poison = usage_event(user_id, model="x" * 300)
    submitted = [*events, events[0], events[1], poison]
    batcher = UsageBatcher(store, max_batch=64)

    def apply(event: UsageEvent) -> bool | DataError:
        try:
            return batcher.apply(event)
        except DataError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=48) as pool:
        outcomes = list(pool.map(apply, submitted))

    assert outcomes[:200].count(True) + outcomes[200:202].count(True) == 200
    assert outcomes[:202].count(False) == 2
    assert isinstance(outcomes[202], DataError)
    assert await requests_of(db_events, user_id) == 200
    cursor = await db_events.execute(
        "SELECT sum(prompt_tokens) FROM usage_daily WHERE user_id = %s", (user_id,)
    )
    assert await cursor.fetchone() == (sum(range(200)),)

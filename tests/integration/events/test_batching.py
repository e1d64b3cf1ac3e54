"""Batched usage events on each database: duplicates count once, bad data sinks only itself."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import DataError

from minichat.contracts.events import UsageEvent
from minichat_worker.aggregates import EventStore
from minichat_worker.batching import EventBatcher
from tests.integration.events.conftest import usage_event, usage_totals

# Valid for the contract, beyond the 64-bit column: refused on PostgreSQL and SQLite alike.
TOO_MANY_TOKENS = 2**63


def test_concurrent_events_batch_exactly(store: EventStore) -> None:
    user_id = uuid.uuid4()
    events = [usage_event(user_id, prompt_tokens=i) for i in range(200)]
    poison = usage_event(user_id, prompt_tokens=TOO_MANY_TOKENS)
    submitted = [*events, events[0], events[1], poison]
    batcher = EventBatcher[UsageEvent](store.apply_usage_batch, name="usage", max_batch=64)

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
    assert usage_totals(store.engine, user_id) == (200, sum(range(200)))

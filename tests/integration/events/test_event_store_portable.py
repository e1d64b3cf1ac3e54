"""The event store and the in-process sink on PostgreSQL and on SQLite: the same exact results.

Every test here runs once per database (the `store` fixture); the sink gets outbox-shaped
`(event_type, payload)` pairs, as the all-in-one relay hands them over.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from minichat.contracts.events import AuditEvent, UsageEvent
from minichat.db.models import AuditLogEntry, ProcessedEvent, UsageDaily
from minichat.statuses import GenerationStatus
from minichat_worker.aggregates import EventStore
from minichat_worker.local import LocalEventSink
from tests.integration.events.conftest import usage_event, usage_totals

Message = tuple[str, dict[str, Any]]
MODELS = ("gemma-3-270m", "scripted", "gpt-oss")
FINAL = (GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.CANCELED)


@pytest.fixture
def sink(store: EventStore) -> Iterator[LocalEventSink]:
    sink = LocalEventSink(store)
    yield sink
    sink.close()


def outbox_row(event: UsageEvent | AuditEvent) -> Message:
    """The pair the outbox holds for `event`: its type and its JSON payload."""
    return event.event_type, event.model_dump(mode="json")


def audit_event(actor: uuid.UUID, **values: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "actor_user_id": actor,
        "action": "chat.created",
        "target": f"chat:{uuid.uuid4()}",
        "request_metadata": {"ip": "127.0.0.1", "user_agent": "pytest"},
    }
    fields.update(values)
    return AuditEvent(**fields)


def audit_entries(store: EventStore, actor: uuid.UUID) -> list[AuditLogEntry]:
    query = select(AuditLogEntry).where(AuditLogEntry.actor_user_id == actor)
    with Session(store.engine) as session:
        return list(session.scalars(query))


def test_the_store_applies_an_event_once(store: EventStore) -> None:
    user_id = uuid.uuid4()
    event = usage_event(user_id, prompt_tokens=5)
    assert store.apply_usage(event) is True
    assert store.apply_usage(event) is False
    assert store.apply_usage_batch([event, event]) == set()
    audit = audit_event(user_id)
    assert store.apply_audit(audit) is True
    assert store.apply_audit(audit) is False
    assert usage_totals(store.engine, user_id) == (1, 5)
    assert len(audit_entries(store, user_id)) == 1
    with store.engine.connect() as connection:
        claimed = connection.execute(
            select(ProcessedEvent.event_type).where(
                ProcessedEvent.event_id.in_([event.event_id, audit.event_id])
            )
        )
        assert sorted(claimed.scalars()) == ["audit_event", "usage_event"]


def test_duplicates_count_once_in_one_call_and_across_calls(
    store: EventStore, sink: LocalEventSink
) -> None:
    user_id = uuid.uuid4()
    events = [usage_event(user_id, prompt_tokens=i) for i in range(10)]
    sink.deliver([outbox_row(e) for e in [*events, events[3], events[3], events[9]]])
    assert usage_totals(store.engine, user_id) == (10, sum(range(10)))
    # The relay retrying a batch it could not mark sent, with one new event among the old.
    later = usage_event(user_id, prompt_tokens=100)
    sink.deliver([outbox_row(e) for e in [*events, later]])
    assert usage_totals(store.engine, user_id) == (11, sum(range(10)) + 100)


def _mixed_usage(user_id: uuid.UUID, n: int) -> list[UsageEvent]:
    """Events over several days, models and outcomes; ttft and duration exact in binary."""
    rng = random.Random(11)
    # Noon, so the minutes taken off never cross into another day: five days, whatever the hour.
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    events = []
    for _ in range(n):
        status = rng.choice(FINAL)
        events.append(
            usage_event(
                user_id,
                occurred_at=noon - timedelta(days=rng.randint(0, 4), minutes=rng.randint(0, 600)),
                model=rng.choice(MODELS),
                status=status,
                prompt_tokens=rng.randint(0, 4000),
                completion_tokens=rng.randint(0, 512),
                ttft_ms=None if status == GenerationStatus.CANCELED else rng.randint(5, 900) / 4,
                duration_ms=float(rng.randint(50, 20_000)),
            )
        )
    return events


def _expected(events: list[UsageEvent]) -> dict[tuple[date, str], tuple[Any, ...]]:
    totals: dict[tuple[date, str], Counter[str]] = {}
    sums: dict[tuple[date, str], list[float]] = {}
    for event in events:
        key = (event.occurred_at.astimezone(UTC).date(), event.model)
        counts = totals.setdefault(key, Counter())
        counts.update(
            requests=1,
            prompt_tokens=event.prompt_tokens,
            completion_tokens=event.completion_tokens,
            **{GenerationStatus(event.status).value: 1},
            ttft_count=int(event.ttft_ms is not None),
        )
        floats = sums.setdefault(key, [0.0, 0.0])
        floats[0] += event.ttft_ms or 0.0
        floats[1] += event.duration_ms
    return {
        key: (
            *(counts[c] for c in ("requests", "prompt_tokens", "completion_tokens")),
            *(counts[c] for c in ("succeeded", "failed", "canceled", "ttft_count")),
            *sums[key],
        )
        for key, counts in totals.items()
    }


def test_sums_are_exact_over_hundreds_of_mixed_events(
    store: EventStore, sink: LocalEventSink
) -> None:
    user_id = uuid.uuid4()
    events = _mixed_usage(user_id, 400)
    rows = [outbox_row(e) for e in events]
    # Delivered in relay-sized batches, some delivered twice, plus an audit event among them.
    for start in range(0, len(rows), 90):
        sink.deliver([*rows[start : start + 90], *rows[start : start + 7]])
    sink.deliver([*rows[:50], outbox_row(audit_event(user_id))])

    columns = [
        UsageDaily.day,
        UsageDaily.model,
        UsageDaily.requests,
        UsageDaily.prompt_tokens,
        UsageDaily.completion_tokens,
        UsageDaily.succeeded,
        UsageDaily.failed,
        UsageDaily.canceled,
        UsageDaily.ttft_count,
        UsageDaily.ttft_ms_sum,
        UsageDaily.duration_ms_sum,
    ]
    with store.engine.connect() as connection:
        stored = connection.execute(select(*columns).where(UsageDaily.user_id == user_id)).all()
    actual = {(row[0], row[1]): tuple(row[2:]) for row in stored}
    expected = _expected(events)
    assert len({day for day, _ in actual}) == 5
    assert actual == expected


def test_poison_is_logged_and_skipped_while_the_rest_is_applied(
    store: EventStore, sink: LocalEventSink, caplog: pytest.LogCaptureFixture
) -> None:
    user_id = uuid.uuid4()
    good = [usage_event(user_id, prompt_tokens=i) for i in range(5)]
    refused = usage_event(user_id, prompt_tokens=2**63)
    audit = audit_event(user_id)
    bad_id = str(uuid.uuid4())
    poison: list[tuple[str, Any]] = [
        ("usage_event", {"event_id": bad_id, "model": "x"}),
        ("audit_event", {"actor_user_id": "not-a-uuid", "action": 7, "event_id": "nope"}),
        ("usage_event", ["a", "list"]),
        ("made_up_event", {"event_id": str(uuid.uuid4()), "a": 1}),
        outbox_row(refused),
    ]
    with caplog.at_level(logging.WARNING, logger="minichat_worker.local"):
        sink.deliver([*map(outbox_row, good[:3]), *poison, outbox_row(audit), outbox_row(good[3])])
        sink.deliver([outbox_row(good[4])])

    assert usage_totals(store.engine, user_id) == (5, sum(range(5)))
    assert len(audit_entries(store, user_id)) == 1
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipping")]
    assert len(skipped) == len(poison)
    for message, wanted in zip(
        skipped,
        [bad_id, "nope", "(no event id)", "made_up_event", str(refused.event_id)],
        strict=True,
    ):
        assert wanted in message, skipped
    assert any("refused by the database" in line for line in skipped)


def test_audit_events_are_recorded_once(store: EventStore, sink: LocalEventSink) -> None:
    actor = uuid.uuid4()
    first, second = audit_event(actor), audit_event(actor, action="chat.deleted", target=None)
    sink.deliver([outbox_row(first), outbox_row(first), outbox_row(second)])
    sink.deliver([outbox_row(second), outbox_row(first)])
    entries = sorted(audit_entries(store, actor), key=lambda entry: entry.action)
    assert [(e.id, e.action, e.target) for e in entries] == [
        (first.event_id, "chat.created", first.target),
        (second.event_id, "chat.deleted", None),
    ]
    assert entries[0].request_metadata == first.request_metadata
    assert entries[0].occurred_at == first.occurred_at


async def test_threads_delivering_the_same_events_apply_them_once(
    store: EventStore, sink: LocalEventSink
) -> None:
    user_id = uuid.uuid4()
    rows = [outbox_row(usage_event(user_id, prompt_tokens=i)) for i in range(100)]
    shuffled = [random.Random(seed).sample(rows, len(rows)) for seed in range(6)]
    await asyncio.gather(*(asyncio.to_thread(sink.deliver, batch) for batch in shuffled))
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(sink.deliver, [rows[:50], rows[25:75], rows[50:]]))
    assert usage_totals(store.engine, user_id) == (100, sum(range(100)))


def test_a_database_error_is_raised_for_the_relay_to_retry(tmp_path: Path) -> None:
    # A SQLite file without the tables: every statement fails as the database's own error.
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", pool_size=1)
    try:
        with pytest.raises(OperationalError):
            LocalEventSink(store).deliver([outbox_row(usage_event(uuid.uuid4()))])
    finally:
        store.close()


def test_sqlite_connections_are_set_for_a_file_shared_with_the_api(tmp_path: Path) -> None:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}", pool_size=1)
    try:
        with store.engine.connect() as connection:
            pragmas = [
                connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            ]
        assert pragmas == [1, "wal", 5000]
    finally:
        store.close()

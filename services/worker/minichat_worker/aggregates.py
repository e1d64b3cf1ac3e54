"""Applying events to the database: usage aggregates and the audit log, each event id once.

An event id goes into `processed_events` (INSERT ... ON CONFLICT DO NOTHING RETURNING) in the
same transaction as the event's effect, and the effect happens only for the ids that insert
returned. A redelivered event therefore changes nothing, and a worker killed half-way leaves
nothing behind but a rolled-back transaction. The same statements run on PostgreSQL and on
SQLite (the all-in-one mode), each built with its dialect's INSERT.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    func,
    literal_column,
    make_url,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError

from minichat.contracts.events import AuditEvent, UsageEvent
from minichat.db.base import Base
from minichat.db.models import AuditLogEntry, ProcessedEvent, UsageDaily
from minichat.db.pruning import PRUNE_BATCH, prune_batch
from minichat.statuses import GenerationStatus

# What a usage row adds to its aggregate, summed column by column.
_SUMMED = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "succeeded",
    "failed",
    "canceled",
    "ttft_ms_sum",
    "ttft_count",
    "duration_ms_sum",
)
# Rows per statement: well under SQLite's and PostgreSQL's limits on bound parameters.
_CHUNK = 500
# The api writes the same SQLite file; wait for its write lock rather than fail at once.
SQLITE_BUSY_TIMEOUT_MS = 5000


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of `moment`; a naive time is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def sync_database_url(database_url: str) -> str:
    """DATABASE_URL for a sync engine: `sqlite+aiosqlite://` becomes `sqlite://`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite").render_as_string(hide_password=False)
    return database_url


def _usage_row(event: UsageEvent) -> dict[str, Any]:
    status = GenerationStatus(event.status)
    return {
        "user_id": event.user_id,
        "day": utc_day(event.occurred_at),
        "model": event.model,
        "requests": 1,
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "succeeded": int(status == GenerationStatus.SUCCEEDED),
        "failed": int(status == GenerationStatus.FAILED),
        "canceled": int(status == GenerationStatus.CANCELED),
        "ttft_ms_sum": event.ttft_ms or 0.0,
        "ttft_count": int(event.ttft_ms is not None),
        "duration_ms_sum": event.duration_ms,
    }


def _audit_row(event: AuditEvent, now: datetime) -> dict[str, Any]:
    occurred_at = event.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return {
        "id": event.event_id,
        "actor_user_id": event.actor_user_id,
        "action": event.action,
        "target": event.target,
        "request_metadata": event.request_metadata,
        "occurred_at": occurred_at,
        "recorded_at": now,
    }


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver, so the pragmas run outside a transaction and `_begin_immediate`
    # owns BEGIN: pysqlite's own deferred BEGIN would not wait for a busy writer.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # Take the write lock up front (waiting up to busy_timeout), never half-way through.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class EventStore:
    """Writes events' effects through a sync SQLAlchemy engine: PostgreSQL or SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialects: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
            "postgresql": postgresql.insert,
            "sqlite": sqlite.insert,
        }
        insert = dialects.get(engine.dialect.name)
        if insert is None:
            raise ValueError(f"events need PostgreSQL or SQLite, not {engine.dialect.name}")

        processed = _table(ProcessedEvent)
        # One bound parameter per row, the rest inline: psycopg parses each long multi-row
        # statement afresh, and the parse grows with the number of placeholders.
        self._claims = {
            event_type: insert(processed)
            .values(event_type=literal_column(f"'{event_type}'"), processed_at=func.now())
            .on_conflict_do_nothing(index_elements=[processed.c.event_id])
            .returning(processed.c.event_id)
            for event_type in ("usage_event", "audit_event")
        }
        usage = _table(UsageDaily)
        adding = insert(usage)
        self._add_usage = adding.on_conflict_do_update(
            index_elements=[usage.c.user_id, usage.c.day, usage.c.model],
            set_={column: usage.c[column] + adding.excluded[column] for column in _SUMMED},
        )
        audit = _table(AuditLogEntry)
        self._record_audit = insert(audit).on_conflict_do_nothing(index_elements=[audit.c.id])

    @classmethod
    def connect(cls, database_url: str, *, pool_size: int) -> EventStore:
        """A store on DATABASE_URL (`postgresql+psycopg://` or `sqlite[+aiosqlite]://`)."""
        engine = create_engine(
            sync_database_url(database_url),
            pool_size=pool_size,
            max_overflow=0,
            # No ping per checkout (a round trip per event): a dead connection fails the
            # statement, SQLAlchemy drops the pool, and the task retries.
            pool_timeout=30,
        )
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _begin_immediate)
        return cls(engine)

    def apply_usage(self, event: UsageEvent) -> bool:
        """Add the event to its (user, UTC day, model) row; False if it was applied before."""
        return event.event_id in self.apply_usage_batch([event])

    def apply_usage_batch(self, events: Sequence[UsageEvent]) -> set[uuid.UUID]:
        """Apply many usage events in one transaction; the ids applied now (not before)."""
        if not events:
            return set()
        with self._transaction() as connection:
            fresh = self._claim_ids(connection, "usage_event", events)
            totals: dict[tuple[uuid.UUID, date, str], dict[str, Any]] = {}
            counted: set[uuid.UUID] = set()
            for usage in events:
                # Twice in one batch (a redelivery overtaking the original) counts once too.
                if usage.event_id not in fresh or usage.event_id in counted:
                    continue
                counted.add(usage.event_id)
                row = _usage_row(usage)
                key = (row["user_id"], row["day"], row["model"])
                # Summed here: PostgreSQL refuses to update one row twice in one statement.
                if key in totals:
                    for column in _SUMMED:
                        totals[key][column] += row[column]
                else:
                    totals[key] = row
            # Sorted, so concurrent workers lock rows in one order and cannot deadlock.
            rows = [totals[key] for key in sorted(totals, key=str)]
            for chunk in _chunks(rows):
                connection.execute(self._add_usage, chunk)
        return fresh

    def apply_audit(self, event: AuditEvent) -> bool:
        """Record the audit entry; False if it was recorded before."""
        return event.event_id in self.apply_audit_batch([event])

    def apply_audit_batch(self, events: Sequence[AuditEvent]) -> set[uuid.UUID]:
        """Record many audit entries in one transaction; the ids recorded now (not before)."""
        if not events:
            return set()
        with self._transaction() as connection:
            fresh = self._claim_ids(connection, "audit_event", events)
            now = datetime.now(UTC)
            first = {audit.event_id: audit for audit in reversed(events)}
            rows = [_audit_row(first[event_id], now) for event_id in sorted(fresh)]
            for chunk in _chunks(rows):
                connection.execute(self._record_audit, chunk)
        return fresh

    def prune_processed(self, before: datetime) -> int:
        """Delete the ids of events applied before `before`, a batch per transaction; how many."""
        statement = prune_batch(
            ProcessedEvent, ProcessedEvent.event_id, ProcessedEvent.processed_at, before
        )
        pruned = 0
        while True:
            with self.engine.begin() as connection:
                deleted = connection.execute(statement).rowcount
            pruned += deleted
            if deleted < PRUNE_BATCH:
                return pruned

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except OverflowError as exc:
            # PostgreSQL refuses a count beyond 64 bits as DataError; SQLite's driver raises
            # OverflowError before the database sees it. Both are bad data, to be refused alike.
            raise DataError(None, None, exc) from exc

    def _claim_ids(
        self, connection: Connection, event_type: str, events: Sequence[UsageEvent | AuditEvent]
    ) -> set[uuid.UUID]:
        """Insert the events' ids into processed_events; those that were not there before."""
        # Sorted for the same reason as the aggregate rows: one lock order for every worker.
        ids = sorted({claimed.event_id for claimed in events})
        rows = [{"event_id": event_id} for event_id in ids]
        fresh: set[uuid.UUID] = set()
        for chunk in _chunks(rows):
            fresh.update(connection.execute(self._claims[event_type], chunk).scalars())
        return fresh

"""Applying events to Postgres: usage aggregates and the audit log, each event id once.

An event id goes into `processed_events` (INSERT ... ON CONFLICT DO NOTHING) in the same
transaction as the aggregate change, and the aggregate changes only for the ids that insert
returned. A redelivered event therefore changes nothing, and a worker killed half-way leaves
nothing behind but a rolled-back transaction. Usage events are applied in batches (one
transaction for many events); a single event is one statement, a CTE doing both steps.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, text

from minichat.contracts.events import AuditEvent, UsageEvent
from minichat.statuses import GenerationStatus

_APPLY_USAGE = text(
    """
    WITH first_delivery AS (
        INSERT INTO processed_events (event_id, event_type, processed_at)
        VALUES (:event_id, 'usage_event', now())
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
    )
    INSERT INTO usage_daily AS u (
        user_id, day, model, requests, prompt_tokens, completion_tokens,
        succeeded, failed, canceled, ttft_ms_sum, ttft_count, duration_ms_sum
    )
    SELECT :user_id, :day, :model, :requests, :prompt_tokens, :completion_tokens,
           :succeeded, :failed, :canceled, :ttft_ms_sum, :ttft_count, :duration_ms
    FROM first_delivery
    ON CONFLICT (user_id, day, model) DO UPDATE SET
        requests = u.requests + 1,
        prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = u.completion_tokens + excluded.completion_tokens,
        succeeded = u.succeeded + excluded.succeeded,
        failed = u.failed + excluded.failed,
        canceled = u.canceled + excluded.canceled,
        ttft_ms_sum = u.ttft_ms_sum + excluded.ttft_ms_sum,
        ttft_count = u.ttft_count + excluded.ttft_count,
        duration_ms_sum = u.duration_ms_sum + excluded.duration_ms_sum
    RETURNING 1
    """
)

_CLAIM_USAGE_IDS = text(
    """
    INSERT INTO processed_events (event_id, event_type, processed_at)
    SELECT id, 'usage_event', now() FROM unnest(CAST(:ids AS uuid[])) AS id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
)

_ADD_USAGE = text(
    """
    INSERT INTO usage_daily AS u (
        user_id, day, model, requests, prompt_tokens, completion_tokens,
        succeeded, failed, canceled, ttft_ms_sum, ttft_count, duration_ms_sum
    ) VALUES (
        :user_id, :day, :model, :requests, :prompt_tokens, :completion_tokens,
        :succeeded, :failed, :canceled, :ttft_ms_sum, :ttft_count, :duration_ms
    )
    ON CONFLICT (user_id, day, model) DO UPDATE SET
        requests = u.requests + excluded.requests,
        prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = u.completion_tokens + excluded.completion_tokens,
        succeeded = u.succeeded + excluded.succeeded,
        failed = u.failed + excluded.failed,
        canceled = u.canceled + excluded.canceled,
        ttft_ms_sum = u.ttft_ms_sum + excluded.ttft_ms_sum,
        ttft_count = u.ttft_count + excluded.ttft_count,
        duration_ms_sum = u.duration_ms_sum + excluded.duration_ms_sum
    """
)

_APPLY_AUDIT = text(
    """
    WITH first_delivery AS (
        INSERT INTO processed_events (event_id, event_type, processed_at)
        VALUES (:event_id, 'audit_event', now())
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
    )
    INSERT INTO audit_log (
        id, actor_user_id, action, target, request_metadata, occurred_at, recorded_at
    )
    SELECT :event_id, :actor_user_id, :action, :target, CAST(:request_metadata AS jsonb),
           :occurred_at, now()
    FROM first_delivery
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
    """
)


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of `moment`; a naive time is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


_SUMMED = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "succeeded",
    "failed",
    "canceled",
    "ttft_ms_sum",
    "ttft_count",
    "duration_ms",
)


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
        "duration_ms": event.duration_ms,
    }


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class EventStore:
    """Writes events' effects through a sync SQLAlchemy engine (psycopg 3, one per thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, database_url: str, *, pool_size: int) -> EventStore:
        return cls(
            create_engine(
                database_url,
                pool_size=pool_size,
                max_overflow=0,
                # No ping per checkout (a round trip per event): a dead connection fails the
                # statement, SQLAlchemy drops the pool, and the task retries.
                pool_timeout=30,
            )
        )

    def apply_usage(self, event: UsageEvent) -> bool:
        """Add the event to its (user, UTC day, model) row; False if it was applied before."""
        params = {"event_id": event.event_id, **_usage_row(event)}
        with self.engine.begin() as connection:
            return connection.execute(_APPLY_USAGE, params).first() is not None

    def apply_usage_batch(self, events: Sequence[UsageEvent]) -> set[uuid.UUID]:
        """Apply many usage events in one transaction; the ids applied now (not before)."""
        with self.engine.begin() as connection:
            ids = list({event.event_id for event in events})
            fresh = {row[0] for row in connection.execute(_CLAIM_USAGE_IDS, {"ids": ids})}
            totals: dict[tuple[uuid.UUID, date, str], dict[str, Any]] = {}
            counted: set[uuid.UUID] = set()
            for event in events:
                # Twice in one batch (a redelivery overtaking the original) counts once too.
                if event.event_id not in fresh or event.event_id in counted:
                    continue
                counted.add(event.event_id)
                row = _usage_row(event)
                key = (row["user_id"], row["day"], row["model"])
                if key in totals:
                    for column in _SUMMED:
                        totals[key][column] += row[column]
                else:
                    totals[key] = row
            if totals:
                # Sorted, so concurrent workers lock rows in one order and cannot deadlock.
                connection.execute(_ADD_USAGE, [totals[key] for key in sorted(totals, key=str)])
        return fresh

    def apply_audit(self, event: AuditEvent) -> bool:
        """Record the audit entry; False if it was recorded before."""
        params = {
            "event_id": event.event_id,
            "actor_user_id": event.actor_user_id,
            "action": event.action,
            "target": event.target,
            "request_metadata": json.dumps(event.request_metadata),
            "occurred_at": _aware(event.occurred_at),
        }
        with self.engine.begin() as connection:
            return connection.execute(_APPLY_AUDIT, params).first() is not None

    def close(self) -> None:
        self.engine.dispose()

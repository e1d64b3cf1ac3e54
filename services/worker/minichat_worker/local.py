"""Events delivered in-process, for the all-in-one mode: the relay hands outbox rows straight here.

It does what the Celery tasks do, without a broker: validate each payload with the contract
models and apply it once. What can never be applied (an invalid payload, an unknown event type,
data the database refuses) is logged and skipped, the in-process dead-letter queue; a database
that cannot be reached raises, and the relay delivers the whole batch again later, which is
safe because applying is idempotent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from minichat.contracts.events import AuditEvent, UsageEvent
from minichat_worker import outcomes
from minichat_worker.aggregates import EventStore
from minichat_worker.metrics import (
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    EVENTS_PROCESSED,
    EVENTS_RETRIED,
)
from minichat_worker.pruning import ProcessedEventPruner
from minichat_worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

E = TypeVar("E", UsageEvent, AuditEvent)

DEFAULT_EVENT_ID_RETENTION = timedelta(
    hours=WorkerSettings.model_fields["processed_event_retention_hours"].default
)
_CONTRACTS: dict[str, type[BaseModel]] = {"usage_event": UsageEvent, "audit_event": AuditEvent}


class LocalEventSink:
    """Applies `(event_type, payload)` pairs as the outbox holds them; safe to call from threads."""

    def __init__(
        self, store: EventStore, *, event_id_retention: timedelta = DEFAULT_EVENT_ID_RETENTION
    ) -> None:
        self.store = store
        self._pruner = ProcessedEventPruner(store, event_id_retention).start()

    def deliver(self, messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Apply the events once each; raises only when the database is unavailable."""
        usage: list[UsageEvent] = []
        audit: list[AuditEvent] = []
        for event_type, payload in messages:
            event = _validated(event_type, payload)
            if isinstance(event, UsageEvent):
                usage.append(event)
            elif isinstance(event, AuditEvent):
                audit.append(event)
        if usage:
            _apply("usage_event", usage, self.store.apply_usage_batch, self.store.apply_usage)
        if audit:
            _apply("audit_event", audit, self.store.apply_audit_batch, self.store.apply_audit)

    def close(self) -> None:
        self._pruner.stop()
        self.store.close()


def _validated(event_type: str, payload: Any) -> BaseModel | None:
    contract = _CONTRACTS.get(event_type)
    if contract is None:
        _skip(event_type, _event_id(payload), "unknown event type")
        return None
    try:
        return contract.model_validate(payload)
    except ValidationError as exc:
        _skip(event_type, _event_id(payload), outcomes.invalid(exc))
        return None


def _apply(
    event_type: str,
    events: list[E],
    apply_batch: Callable[[Sequence[E]], set[uuid.UUID]],
    apply_one: Callable[[E], bool],
) -> None:
    try:
        fresh = apply_batch(events)
    except (OperationalError, InterfaceError):
        EVENTS_FAILED.labels(event_type, "database").inc(len(events))
        EVENTS_RETRIED.labels(event_type).inc(len(events))
        raise
    except DBAPIError:
        logger.warning(
            "a batch of %d %ss was refused; applying one by one", len(events), event_type
        )
        for event in events:
            try:
                applied = apply_one(event)
            except (OperationalError, InterfaceError):
                EVENTS_FAILED.labels(event_type, "database").inc()
                EVENTS_RETRIED.labels(event_type).inc()
                raise
            except DBAPIError as exc:
                _skip(event_type, str(event.event_id), outcomes.refused(exc))
                continue
            outcomes.processed(event_type, applied=applied)
        return
    EVENTS_PROCESSED.labels(event_type, "applied").inc(len(fresh))
    EVENTS_PROCESSED.labels(event_type, "duplicate").inc(len(events) - len(fresh))


def _skip(event_type: str, event_id: str | None, reason: str) -> None:
    # Unknown types are counted under one label: a label per made-up name would grow forever.
    counted = event_type if event_type in _CONTRACTS else "unknown"
    EVENTS_FAILED.labels(counted, "invalid").inc()
    EVENTS_DEAD_LETTERED.labels(counted).inc()
    logger.error("skipping %s %s: %s", event_type, event_id or "(no event id)", reason)


def _event_id(payload: Any) -> str | None:
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    return None if event_id is None else str(event_id)

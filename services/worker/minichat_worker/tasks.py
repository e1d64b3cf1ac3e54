"""The event tasks: validate the payload, apply it once, retry database outages, dead-letter junk.

This is the worker's one edge between failures and Celery: a payload that fails validation, or
that the database refuses as data (too long, a NUL byte), is rejected without requeueing and
lands in the dead-letter queue; a database that cannot be reached is retried with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from celery import Celery, Task
from celery.exceptions import Reject
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from minichat.contracts.events import AUDIT_EVENT_TASK, USAGE_EVENT_TASK, AuditEvent, UsageEvent
from minichat_worker.aggregates import EventStore
from minichat_worker.batching import UsageBatcher
from minichat_worker.metrics import EVENTS_FAILED, EVENTS_PROCESSED

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)

RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
# About an hour of database outage; after that the event waits in the dead-letter queue.
MAX_DATABASE_RETRIES = 130


def retry_delay(retries: int) -> float:
    """Exponential backoff: 1, 2, 4, ... seconds, capped at RETRY_MAX_SECONDS."""
    return float(min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** min(retries, 16)))


def handle(
    task: Task,
    event_type: str,
    payload: Any,
    model: type[E],
    apply: Callable[[E], bool],
) -> str:
    """Validate and apply one event; answers `applied` or `duplicate`."""
    try:
        event = model.model_validate(payload)
    except ValidationError as exc:
        _dead_letter(task, event_type, f"invalid payload: {_summary(exc)}")
    try:
        applied = apply(event)
    except (OperationalError, InterfaceError) as exc:
        EVENTS_FAILED.labels(event_type, "database").inc()
        retries = task.request.retries
        logger.warning(
            "%s %s: database unavailable (%s); retry %d",
            event_type,
            task.request.id,
            type(exc.orig).__name__,
            retries + 1,
        )
        raise task.retry(
            exc=exc, countdown=retry_delay(retries), max_retries=MAX_DATABASE_RETRIES
        ) from exc
    except DBAPIError as exc:
        _dead_letter(task, event_type, f"refused by the database: {type(exc.orig).__name__}")
    outcome = "applied" if applied else "duplicate"
    EVENTS_PROCESSED.labels(event_type, outcome).inc()
    return outcome


def _dead_letter(task: Task, event_type: str, reason: str) -> NoReturn:
    EVENTS_FAILED.labels(event_type, "invalid").inc()
    logger.error("dead-lettering %s %s: %s", event_type, task.request.id, reason)
    raise Reject(reason, requeue=False)


def _summary(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in error.errors()
    ]
    return "; ".join(problems[:5])


def register_tasks(app: Celery, store: EventStore) -> None:
    """The two event tasks, named as the relay addresses them; each takes the payload dict."""
    task: Any = app.task  # Celery's decorator is untyped
    usage = UsageBatcher(store)

    def usage_event(self: Task, payload: Any) -> str:
        return handle(self, "usage_event", payload, UsageEvent, usage.apply)

    def audit_event(self: Task, payload: Any) -> str:
        return handle(self, "audit_event", payload, AuditEvent, store.apply_audit)

    for name, function in ((USAGE_EVENT_TASK, usage_event), (AUDIT_EVENT_TASK, audit_event)):
        task(name=name, bind=True, max_retries=MAX_DATABASE_RETRIES)(function)

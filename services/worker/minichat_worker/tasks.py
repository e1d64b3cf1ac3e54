"""The event tasks: validate the payload, apply it once, retry database outages, dead-letter junk.

This is the worker's one edge between failures and Celery: a payload that fails validation, or
that the database refuses as data (too long, a NUL byte), is rejected without requeueing and
lands in the dead-letter queue; a database that cannot be reached is retried with backoff.
A first delivery usually never reaches `handle`: the tasks' strategy (strategy.py) applies it
in a batch straight from the consumer, with the same outcomes; `handle` runs retries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from celery import Celery, Task
from celery.exceptions import Reject
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError

from minichat.contracts.events import AUDIT_EVENT_TASK, USAGE_EVENT_TASK, AuditEvent, UsageEvent
from minichat_worker import outcomes, spans
from minichat_worker.aggregates import EventStore
from minichat_worker.batching import EventBatcher
from minichat_worker.strategy import BatchedStrategy

M = TypeVar("M", bound=BaseModel)


def handle(
    task: Task,
    event_type: str,
    payload: Any,
    model: type[M],
    apply: Callable[[M], bool],
) -> str:
    """Validate and apply one event; answers `applied` or `duplicate`."""
    try:
        event = model.model_validate(payload)
    except ValidationError as exc:
        _dead_letter(task, event_type, outcomes.invalid(exc))
    span = spans.start_apply(event)  # a retry: its parent is the event's own trace context
    try:
        applied = apply(event)
    except outcomes.UNAVAILABLE as exc:
        spans.end_apply(span, "retried", exc)
        retries = task.request.retries
        outcomes.database_unavailable(event_type, task.request.id, exc, retries=retries)
        raise task.retry(
            exc=exc,
            countdown=outcomes.retry_delay(retries),
            max_retries=outcomes.MAX_DATABASE_RETRIES,
        ) from exc
    except DBAPIError as exc:
        spans.end_apply(span, "dead_lettered", exc)
        _dead_letter(task, event_type, outcomes.refused(exc))
    spans.end_apply(span, "applied" if applied else "duplicate")
    outcomes.processed(event_type, applied=applied)
    return "applied" if applied else "duplicate"


def _dead_letter(task: Task, event_type: str, reason: str) -> NoReturn:
    outcomes.dead_lettered(event_type, task.request.id, reason)
    raise Reject(reason, requeue=False)


def register_tasks(app: Celery, store: EventStore) -> None:
    """The two event tasks, named as the relay addresses them; each takes the payload dict."""
    task: Any = app.task  # Celery's decorator is untyped
    usage = EventBatcher[UsageEvent](store.apply_usage_batch, name="usage-batcher")
    audit = EventBatcher[AuditEvent](store.apply_audit_batch, name="audit-batcher")

    def usage_event(self: Task, payload: Any) -> str:
        return handle(self, "usage_event", payload, UsageEvent, usage.apply)

    def audit_event(self: Task, payload: Any) -> str:
        return handle(self, "audit_event", payload, AuditEvent, audit.apply)

    def register(name: str, run: Callable[[Task, Any], str], strategy: Any) -> None:
        retried = {"bind": True, "max_retries": outcomes.MAX_DATABASE_RETRIES}
        task(name=name, Strategy=strategy, **retried)(run)

    usage_strategy = BatchedStrategy("usage_event", UsageEvent.model_validate, usage)
    register(USAGE_EVENT_TASK, usage_event, usage_strategy)
    audit_strategy = BatchedStrategy("audit_event", AuditEvent.model_validate, audit)
    register(AUDIT_EVENT_TASK, audit_event, audit_strategy)

"""What becomes of an event, said once: the metrics, the log lines, the retry backoff."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from minichat_worker.metrics import (
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    EVENTS_PROCESSED,
    EVENTS_RETRIED,
)

logger = logging.getLogger(__name__)

# The database cannot be reached (or no connection is free): worth retrying, not the event's fault.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)

RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
# About an hour of database outage; after that the event waits in the dead-letter queue.
MAX_DATABASE_RETRIES = 130


def retry_delay(retries: int) -> float:
    """Exponential backoff: 1, 2, 4, ... seconds, capped at RETRY_MAX_SECONDS."""
    return float(min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** min(retries, 16)))


def processed(event_type: str, *, applied: bool) -> None:
    EVENTS_PROCESSED.labels(event_type, "applied" if applied else "duplicate").inc()


def dead_lettered(event_type: str, task_id: str, reason: str) -> None:
    EVENTS_FAILED.labels(event_type, "invalid").inc()
    EVENTS_DEAD_LETTERED.labels(event_type).inc()
    logger.error("dead-lettering %s %s: %s", event_type, task_id, reason)


def database_unavailable(event_type: str, task_id: str, exc: Exception, *, retries: int) -> None:
    EVENTS_FAILED.labels(event_type, "database").inc()
    EVENTS_RETRIED.labels(event_type).inc()
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    logger.warning(
        "%s %s: database unavailable (%s); retry %d",
        event_type,
        task_id,
        type(cause).__name__,
        retries + 1,
    )


def invalid(error: ValidationError) -> str:
    """A dead-letter reason naming the first few fields that failed validation."""
    problems = [
        f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in error.errors()
    ]
    return "invalid payload: " + "; ".join(problems[:5])


def refused(error: DBAPIError) -> str:
    return f"refused by the database: {type(error.orig).__name__}"

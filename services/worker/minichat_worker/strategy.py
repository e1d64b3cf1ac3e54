"""The event tasks' Celery strategy: a fresh event goes from the consumer straight to its batcher.

Celery's default strategy makes every message a Request for the pool: a thread hand-off, a
tracer and a Future per event, which was half the worker's CPU at 2,000 events/s. A fresh
event needs none of that. It is decoded and validated in the consumer thread, submitted to the
batcher with its message's ack and reject, and acknowledged (by the consumer's hub, which owns
the channel) once its batch has committed. The outcomes are the task's: a payload that fails
validation or data the database refuses is dead-lettered; a database that cannot be reached
turns the event into an ordinary Celery retry with a countdown. Retries, and any message this
path does not expect, take Celery's default strategy and run as tasks in the pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Generic

from celery import Celery, Task
from celery.worker.strategy import default as default_strategy
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from minichat_worker import outcomes, spans
from minichat_worker.batching import E, EventBatcher, Outcome

logger = logging.getLogger(__name__)

# Headers that ask for what only the default strategy does: timing, expiry, retry bookkeeping.
_DEFAULT_PATH_HEADERS = ("eta", "expires", "retries", "group")


class BatchedStrategy(Generic[E]):
    """A `Task.Strategy`: Celery calls it once per consumer to get the message handler."""

    def __init__(
        self, event_type: str, validate: Callable[[Any], E], batcher: EventBatcher[E]
    ) -> None:
        """`validate`: the contract model's `model_validate`."""
        self.event_type = event_type
        self.validate = validate
        self.batcher = batcher

    def __call__(self, task: Task, app: Celery, consumer: Any, **kwargs: Any) -> Any:
        fallback = default_strategy(task, app, consumer, **kwargs)
        errors = consumer.connection_errors

        def on_message(message: Any, body: Any, ack: Any, reject: Any, callbacks: Any) -> Any:
            try:
                payload = self._fresh_payload(message, body, callbacks)
            except Exception as exc:
                # Celery's own handling would acknowledge an undecodable body, dropping it.
                task_id = message.headers["id"]
                reason = f"unreadable message: {type(exc).__name__}: {exc}"
                outcomes.dead_lettered(self.event_type, task_id, reason)
                reject(logger, errors, requeue=False)
                return None
            if payload is None:
                return fallback(message, body, ack, reject, callbacks)
            task_id = message.headers["id"]
            try:
                event = self.validate(payload)
            except ValidationError as exc:
                outcomes.dead_lettered(self.event_type, task_id, outcomes.invalid(exc))
                reject(logger, errors, requeue=False)
                return None

            span = spans.start_apply(event, message.headers)

            def done(outcome: Outcome) -> None:
                spans.end_apply(span, *_described(outcome))
                try:
                    settled = self._settle(task, task_id, payload, outcome)
                except Exception:
                    # The retry could not be published: the broker delivers the event again,
                    # after a pause, so that a broker refusing publishes is not a busy loop.
                    logger.exception("%s %s: cannot schedule a retry", self.event_type, task_id)
                    time.sleep(outcomes.retry_delay(0))
                    reject(logger, errors, requeue=True)
                    return
                if settled:
                    ack(logger, errors)
                else:
                    reject(logger, errors, requeue=False)

            self.batcher.submit(event, done)
            return None

        return on_message

    @staticmethod
    def _fresh_payload(message: Any, body: Any, callbacks: Any) -> Any | None:
        """The event payload of a first delivery in protocol 2; None sends it the default way."""
        headers = message.headers
        if body is not None or callbacks or not headers or "id" not in headers:
            return None
        if any(headers.get(name) for name in _DEFAULT_PATH_HEADERS):
            return None
        if any(headers.get("timelimit") or ()):
            return None
        decoded = message.payload  # raises DecodeError for a body that is not JSON
        if not (isinstance(decoded, list | tuple) and len(decoded) == 3):
            return None
        args, kwargs, embed = decoded
        if kwargs or not isinstance(args, list | tuple) or len(args) != 1:
            return None
        if not isinstance(embed, dict) or any(embed.values()):
            return None  # callbacks, a chain or a chord to run after it: Celery's own work
        return args[0]

    def _settle(self, task: Task, task_id: str, payload: Any, outcome: Outcome) -> bool:
        """Record the outcome; True to acknowledge the message, False to dead-letter it."""
        if isinstance(outcome, bool):
            outcomes.processed(self.event_type, applied=outcome)
            return True
        if isinstance(outcome, outcomes.UNAVAILABLE):
            outcomes.database_unavailable(self.event_type, task_id, outcome, retries=0)
            # The republished copy carries the retry count, so it takes the default path.
            task.apply_async(
                args=(payload,), task_id=task_id, countdown=outcomes.retry_delay(0), retries=1
            )
            return True
        if isinstance(outcome, DBAPIError):
            outcomes.dead_lettered(self.event_type, task_id, outcomes.refused(outcome))
            return False
        logger.error("%s %s failed", self.event_type, task_id, exc_info=outcome)
        outcomes.dead_lettered(self.event_type, task_id, f"{type(outcome).__name__}: {outcome}")
        return False


def _described(outcome: Outcome) -> tuple[str, BaseException | None]:
    if isinstance(outcome, bool):
        return ("applied" if outcome else "duplicate"), None
    if isinstance(outcome, outcomes.UNAVAILABLE):
        return "retried", outcome
    return "dead_lettered", outcome

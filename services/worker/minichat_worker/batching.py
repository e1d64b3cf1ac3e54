"""Group events of one type into one database transaction each.

Events are submitted with a callback that receives the outcome once the event's batch has
committed (or failed), so a message is acknowledged only after its event is in the database.
The applier thread takes whatever is waiting, up to `max_batch`, without lingering: under light
load a batch is one event; under heavy load one commit serves many, which is where the
throughput comes from. An event the database refuses as data sinks only itself: the batch is
then applied one event at a time, and only the offender fails. A database that cannot be
reached fails the whole batch, for each event to be retried.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from minichat.contracts.events import AuditEvent, UsageEvent
from minichat_worker.outcomes import UNAVAILABLE

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=UsageEvent | AuditEvent)
# True: applied now; False: applied before (a duplicate); or what stopped it.
Outcome = bool | Exception
Done = Callable[[Outcome], None]


class EventBatcher(Generic[E]):
    def __init__(
        self,
        apply_batch: Callable[[Sequence[E]], set[uuid.UUID]],
        *,
        name: str,
        max_batch: int = 256,
    ) -> None:
        """`apply_batch` applies events in one transaction and answers the ids applied now."""
        self.apply_batch = apply_batch
        self.name = name
        self.max_batch = max_batch
        self._waiting: queue.SimpleQueue[tuple[E, Done]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, event: E, done: Done) -> None:
        """Apply the event with others; `done` gets its outcome, on the applier thread."""
        self._ensure_started()
        self._waiting.put((event, done))

    def apply(self, event: E) -> bool:
        """Apply the event and wait: True if applied now, False if seen before; or raise."""
        outcome: Future[bool] = Future()

        def settle(result: Outcome) -> None:
            if isinstance(result, Exception):
                outcome.set_exception(result)
            else:
                outcome.set_result(result)

        self.submit(event, settle)
        return outcome.result()

    def _ensure_started(self) -> None:
        # Started on first use, so it lives in the process that runs the tasks.
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            for done, outcome in self._outcomes(batch):
                try:
                    done(outcome)
                except Exception:
                    # The thread must outlive a faulty callback: later events depend on it.
                    logger.exception("%s: a completion callback failed", self.name)

    def _outcomes(self, batch: Sequence[tuple[E, Done]]) -> list[tuple[Done, Outcome]]:
        try:
            fresh = self.apply_batch([event for event, _ in batch])
        except UNAVAILABLE as exc:
            return [(done, exc) for _, done in batch]
        except Exception:
            # Refused as data, or a fault of our own: one by one, so only its cause fails.
            logger.warning("%s: a batch of %d failed; one by one now", self.name, len(batch))
            return [(done, self._apply_alone(event)) for event, done in batch]
        outcomes: list[tuple[Done, Outcome]] = []
        for event, done in batch:
            # The first of several copies in one batch is the one that counted.
            outcomes.append((done, event.event_id in fresh))
            fresh.discard(event.event_id)
        return outcomes

    def _apply_alone(self, event: E) -> Outcome:
        try:
            return event.event_id in self.apply_batch([event])
        except Exception as exc:
            return exc

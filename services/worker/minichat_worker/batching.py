"""Group usage events from concurrent tasks into one database transaction each.

Every task thread hands its event to one applier thread and waits for the outcome, so a
task still returns (and its message is acknowledged) only after its event is committed. The
applier takes whatever is waiting, up to `max_batch`, without lingering: under light load a
batch is one event; under heavy load one commit serves many, which is where the throughput
comes from. An event the database refuses as data sinks only itself: the batch is then
applied one event at a time, and only the offender fails.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from minichat.contracts.events import UsageEvent
from minichat_worker.aggregates import EventStore

logger = logging.getLogger(__name__)


class UsageBatcher:
    def __init__(self, store: EventStore, *, max_batch: int = 256) -> None:
        self.store = store
        self.max_batch = max_batch
        self._waiting: queue.SimpleQueue[tuple[UsageEvent, Future[bool]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def apply(self, event: UsageEvent) -> bool:
        """Apply the event (batched with others); True if applied now, False if seen before."""
        self._ensure_started()
        outcome: Future[bool] = Future()
        self._waiting.put((event, outcome))
        return outcome.result()

    def _ensure_started(self) -> None:
        # Started on first use, so it lives in the process that runs the tasks.
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="usage-batcher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._apply(batch)

    def _apply(self, batch: Sequence[tuple[UsageEvent, Future[bool]]]) -> None:
        try:
            fresh = self.store.apply_usage_batch([event for event, _ in batch])
        except (OperationalError, InterfaceError) as exc:
            for _, outcome in batch:
                outcome.set_exception(exc)
            return
        except DBAPIError:
            logger.warning(
                "a batch of %d usage events was refused; applying one by one", len(batch)
            )
            for event, outcome in batch:
                raise_into(outcome, self.store.apply_usage, event)
            return
        except Exception as exc:
            for _, outcome in batch:
                outcome.set_exception(exc)
            return
        for event, outcome in batch:
            # The first of several copies in one batch is the one that counted.
            outcome.set_result(event.event_id in fresh)
            fresh.discard(event.event_id)


def raise_into(
    outcome: Future[bool], apply: Callable[[UsageEvent], bool], event: UsageEvent
) -> None:
    """Resolve `outcome` with `apply(event)`, or with the exception it raised."""
    try:
        outcome.set_result(apply(event))
    except Exception as exc:
        outcome.set_exception(exc)

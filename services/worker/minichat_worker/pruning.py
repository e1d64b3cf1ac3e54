"""Deleting processed event ids once no redelivery can still come for them.

An id is kept for the retention period (WorkerSettings, 7 days by default), far longer than a
message waits between its delivery and a redelivery (a lost ack, a relay that crashed between
publishing and marking the row sent), then deleted in batches by a thread of the worker.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from minichat_worker.aggregates import EventStore
from minichat_worker.metrics import EVENT_IDS_PRUNED

logger = logging.getLogger(__name__)

# How often ids past their retention are looked for.
PRUNE_INTERVAL_SECONDS = 300.0


class ProcessedEventPruner:
    def __init__(
        self,
        store: EventStore,
        retention: timedelta,
        *,
        interval_seconds: float = PRUNE_INTERVAL_SECONDS,
    ) -> None:
        self._store = store
        self._retention = retention
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-id-pruner", daemon=True)

    def start(self) -> ProcessedEventPruner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def prune_once(self) -> int:
        pruned = self._store.prune_processed(datetime.now(UTC) - self._retention)
        EVENT_IDS_PRUNED.inc(pruned)
        return pruned

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                pruned = self.prune_once()
            except Exception as exc:  # the database may be away; the next round tries again
                logger.warning("cannot prune processed event ids: %r", exc)
            else:
                if pruned:
                    logger.info("pruned %d processed event ids", pruned)
            self._stopping.wait(self._interval)

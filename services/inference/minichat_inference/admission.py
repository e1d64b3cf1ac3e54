"""Admission control: at most N generations at once, a bounded queue behind them, 429 beyond it."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from minichat.errors import RateLimited
from minichat_inference.metrics import Metrics

_MAX_RETRY_AFTER_SECONDS = 60


class Admission:
    def __init__(self, max_concurrency: int, max_queue: int, metrics: Metrics) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.metrics = metrics
        self.active = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(max_concurrency)
        # A running mean of how long a slot is held, to tell refused clients when to come back.
        self._mean_hold_seconds = 1.0

    def retry_after_seconds(self) -> int:
        rounds = (self.waiting + 1) / self.max_concurrency
        estimate = math.ceil(rounds * self._mean_hold_seconds)
        return min(max(estimate, 1), _MAX_RETRY_AFTER_SECONDS)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a generation slot for the block; raise RateLimited at once if the queue is full."""
        if self.active + self.waiting >= self.max_concurrency + self.max_queue:
            self.metrics.rejected.inc()
            raise RateLimited(
                f"the server is busy ({self.active} generating, {self.waiting} queued); "
                "retry later",
                retry_after_seconds=self.retry_after_seconds(),
            )
        self.waiting += 1
        self.metrics.queue_depth.set(self.waiting)
        queued_at = time.perf_counter()
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
            self.metrics.queue_depth.set(self.waiting)
        self.metrics.queue_wait.observe(time.perf_counter() - queued_at)
        self.active += 1
        self.metrics.active_generations.set(self.active)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.active -= 1
            self.metrics.active_generations.set(self.active)
            self._slots.release()
            held = time.perf_counter() - started
            self._mean_hold_seconds = 0.8 * self._mean_hold_seconds + 0.2 * held

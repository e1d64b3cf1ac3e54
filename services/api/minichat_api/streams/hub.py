"""One blocking XREAD per process for every followed stream, fanned out to local subscribers.

A reader per SSE client would hold a Redis connection each; thousands of clients would need
thousands of connections. The hub reads all followed streams in one command and wakes itself
(an XADD to its own wake stream) when a new stream must join the command.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from minichat_api.background import cancel_and_wait
from minichat_api.streams.base import StreamEvent, entry_key, events_after

logger = logging.getLogger(__name__)
_BLOCK_MS = 1000
_BATCH = 500
_WAKE_TIMEOUT = 2.0


@dataclass(eq=False)
class _Subscriber:
    last: str
    queue: asyncio.Queue[list[StreamEvent]] = field(default_factory=asyncio.Queue)


class StreamHub:
    def __init__(self, redis: Redis, wake_key: str) -> None:
        self._redis = redis
        self._wake_key = wake_key
        # The wake stream is this hub's own (a fresh key), so reading it from the start misses
        # no wake-up, even one sent while no read was blocked.
        self._wake_last = "0-0"
        self._followers: dict[str, set[_Subscriber]] = {}
        self._task: asyncio.Task[None] | None = None

    async def follow(
        self, key: str, after: str | None, idle_seconds: float
    ) -> AsyncIterator[list[StreamEvent]]:
        """Batches of entries of `key` after `after`; an empty batch after `idle_seconds` quiet."""
        subscriber = _Subscriber(after or "0-0")
        self._followers.setdefault(key, set()).add(subscriber)
        self._ensure_running()
        try:
            await asyncio.wait_for(self._wake(), _WAKE_TIMEOUT)
        except Exception as exc:  # the hub rereads its key set within one block anyway
            logger.warning("stream hub: wake-up failed (%r); the next read includes %s", exc, key)
        try:
            while True:
                try:
                    batch = await asyncio.wait_for(subscriber.queue.get(), idle_seconds)
                except TimeoutError:
                    batch = []
                yield batch
        finally:
            followers = self._followers.get(key)
            if followers is not None:
                followers.discard(subscriber)
                if not followers:
                    del self._followers[key]

    async def close(self) -> None:
        await cancel_and_wait([self._task])

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _wake(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {"w": "1"}, maxlen=10, approximate=True)
            pipe.pexpire(self._wake_key, 3_600_000)
            await pipe.execute()

    async def _run(self) -> None:
        while self._followers:
            streams: dict[Any, Any] = {self._wake_key: self._wake_last}
            for key, subscribers in self._followers.items():
                streams[key] = min((s.last for s in subscribers), key=entry_key)
            try:
                response: Any = await self._redis.xread(streams, count=_BATCH, block=_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("stream hub: %r; retrying", exc)
                await asyncio.sleep(0.5)
                continue
            pairs = response.items() if isinstance(response, dict) else response or []
            for key, entries in pairs:
                rows = entries[0] if isinstance(response, dict) else entries
                if key == self._wake_key:
                    self._wake_last = str(rows[-1][0]) if rows else self._wake_last
                    continue
                self._dispatch(key, rows)
        self._task = None

    def _dispatch(self, key: str, rows: list[Any]) -> None:
        events = [entry_event(i, f) for i, f in rows]
        for subscriber in self._followers.get(key, ()):
            fresh = events_after(events, subscriber.last)
            if fresh:
                subscriber.last = fresh[-1].id
                subscriber.queue.put_nowait(fresh)


def new_wake_key(prefix: str) -> str:
    return f"{prefix}hub:{uuid.uuid4().hex}"


def entry_event(entry_id: Any, fields: Any) -> StreamEvent:
    """A Redis stream entry (fields `e`: event name, `d`: JSON data) as a StreamEvent."""
    return StreamEvent(str(entry_id), str(fields["e"]), str(fields["d"]))

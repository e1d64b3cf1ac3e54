"""Two readers per process for every followed stream, fanned out to local subscribers.

A reader per SSE client would hold a Redis connection each; thousands of clients would need
thousands of connections. So the hub reads for all of them:

- Streams that this process writes (`writing`) are left out of the blocking read. Most followers
  watch a generation their own process runs: they take each local append's entries straight
  from its answer (`delivered`), which names the entry before them, so a follower that has read
  up to that entry misses nothing. A follower further behind (it joined late, or another
  process wrote in between) is read for, with one XREAD for all such streams at a time.
- Every other stream is in one blocking XREAD, which wakes itself (an XADD to its own wake
  stream) when a stream must join the command.

Either way a follower gets the stream's entries in Redis's order, with no gap. A follower
that stops taking them (a client that stops reading) holds at most `MAX_QUEUED` of them: it is
left out until it has taken half, then read for from where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from minichat_api.background import cancel_and_wait
from minichat_api.streams.base import StreamEvent, entry_key, events_after

logger = logging.getLogger(__name__)
_BLOCK_MS = 1000
_BATCH = 500
_WAKE_TIMEOUT = 2.0
# Entries one follower may hold untaken; beyond that, Redis keeps them for it.
MAX_QUEUED = 1000


@dataclass(eq=False)
class _Subscriber:
    last: str
    queue: asyncio.Queue[list[StreamEvent]] = field(default_factory=asyncio.Queue)
    queued: int = 0  # entries in `queue`
    # Its queue was full: nothing is handed to it until it has taken half.
    behind: bool = False


class StreamHub:
    def __init__(self, redis: Redis, wake_key: str) -> None:
        self._redis = redis
        self._wake_key = wake_key
        # The wake stream is this hub's own (a fresh key), so reading it from the start misses
        # no wake-up, even one sent while no read was blocked.
        self._wake_last = "0-0"
        self._followers: dict[str, set[_Subscriber]] = {}
        self._task: asyncio.Task[None] | None = None
        # Streams this process appends to, left out of the blocking read.
        self._writers: Counter[str] = Counter()
        self._appended: set[str] = set()
        self._appended_signal = asyncio.Event()
        self._local_task: asyncio.Task[None] | None = None

    async def follow(
        self, key: str, after: str | None, idle_seconds: float
    ) -> AsyncIterator[list[StreamEvent]]:
        """Batches of entries of `key` after `after`; an empty batch after `idle_seconds` quiet."""
        subscriber = _Subscriber(after or "0-0")
        self._followers.setdefault(key, set()).add(subscriber)
        self._ensure_running()
        # What was written before we came is read at once; so are later local appends.
        self.appended(key)
        if key not in self._writers:
            try:
                await asyncio.wait_for(self._wake(), _WAKE_TIMEOUT)
            except Exception as exc:  # the hub rereads its key set within one block anyway
                logger.warning(
                    "stream hub: wake-up failed (%r); the next read includes %s", exc, key
                )
        try:
            while True:
                try:
                    batch = await asyncio.wait_for(subscriber.queue.get(), idle_seconds)
                except TimeoutError:
                    batch = []
                subscriber.queued -= len(batch)
                if subscriber.behind and subscriber.queued <= MAX_QUEUED // 2:
                    # Read for again from its last entry: what it missed is still in Redis.
                    subscriber.behind = False
                    self.appended(key)
                yield batch
        finally:
            followers = self._followers.get(key)
            if followers is not None:
                followers.discard(subscriber)
                if not followers:
                    del self._followers[key]

    @contextmanager
    def writing(self, key: str) -> Iterator[None]:
        """This process appends to `key` during the block (and calls `appended` after each)."""
        self._writers[key] += 1
        try:
            yield
        finally:
            self._writers[key] -= 1
            if not self._writers[key]:
                # Back into the blocking read, from the followers' last ids, at its next round:
                # if another process takes the generation over, its appends reach us from there.
                del self._writers[key]

    def delivered(self, key: str, previous: str, events: list[StreamEvent]) -> None:
        """This process appended `events` to `key`, right after the entry `previous`."""
        self._dispatch(key, events, previous)

    def appended(self, key: str) -> None:
        """`key` has new entries (or may have): read them for its followers now."""
        if key in self._followers:
            self._appended.add(key)
            self._appended_signal.set()

    async def close(self) -> None:
        await cancel_and_wait([self._task, self._local_task])

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        if self._local_task is None or self._local_task.done():
            self._local_task = asyncio.create_task(self._run_appended())

    async def _wake(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {"w": "1"}, maxlen=10, approximate=True)
            pipe.pexpire(self._wake_key, 3_600_000)
            await pipe.execute()

    async def _run_appended(self) -> None:
        """Read the streams appended to since the last round, without blocking, until closed."""
        while True:
            await self._appended_signal.wait()
            self._appended_signal.clear()
            keys, self._appended = self._appended, set()
            streams = self._positions(k for k in keys if k in self._followers)
            if not streams:
                continue
            try:
                response: Any = await self._redis.xread(streams, count=_BATCH)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("stream hub: %r; retrying", exc)
                self._appended |= keys
                await asyncio.sleep(0.5)
                self._appended_signal.set()
                continue
            for key, rows in xread_entries(response):
                self._dispatch(key, [entry_event(i, f) for i, f in rows], streams[key])
                if len(rows) == _BATCH:  # more than one read's worth: read on
                    self.appended(key)

    def _positions(self, keys: Iterable[str]) -> dict[Any, Any]:
        """Each key's read position: the earliest last id among its subscribers that take
        entries (a key whose every subscriber is behind is not read)."""
        positions = {}
        for key in keys:
            taking = [s.last for s in self._followers[key] if not s.behind]
            if taking:
                positions[key] = min(taking, key=entry_key)
        return positions

    async def _run(self) -> None:
        while self._followers:
            streams: dict[Any, Any] = {self._wake_key: self._wake_last}
            streams.update(self._positions(k for k in self._followers if k not in self._writers))
            try:
                response: Any = await self._redis.xread(streams, count=_BATCH, block=_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("stream hub: %r; retrying", exc)
                await asyncio.sleep(0.5)
                continue
            for key, rows in xread_entries(response):
                if key == self._wake_key:
                    self._wake_last = str(rows[-1][0]) if rows else self._wake_last
                    continue
                self._dispatch(key, [entry_event(i, f) for i, f in rows], streams[key])
        self._task = None

    def _dispatch(self, key: str, events: list[StreamEvent], position: str) -> None:
        """Hand `events`, the stream's entries after `position`, to each subscriber they
        continue."""
        start = entry_key(position)
        for subscriber in self._followers.get(key, ()):
            if subscriber.behind:
                continue
            if entry_key(subscriber.last) < start:
                # It is further back (it came after the read was sent, or another writer's
                # entries came between): these would leave a gap, so it gets a read of its own.
                self.appended(key)
                continue
            fresh = events_after(events, subscriber.last)
            if not fresh:
                continue
            if subscriber.queued and subscriber.queued + len(fresh) > MAX_QUEUED:
                subscriber.behind = True
                continue
            subscriber.last = fresh[-1].id
            subscriber.queued += len(fresh)
            subscriber.queue.put_nowait(fresh)


def new_wake_key(prefix: str) -> str:
    return f"{prefix}hub:{uuid.uuid4().hex}"


def xread_entries(response: Any) -> Iterator[tuple[str, list[Any]]]:
    """(key, entries) for each stream in an XREAD answer: RESP3 {key: [entries]}, RESP2
    [[key, entries], ...]."""
    if isinstance(response, dict):
        for key, entries in response.items():
            yield key, entries[0]
    else:
        yield from response or []


def entry_event(entry_id: Any, fields: Any) -> StreamEvent:
    """A Redis stream entry (fields `e`: event name, `d`: JSON data, `t`: tokens) as a
    StreamEvent."""
    tokens = fields.get("t")
    return StreamEvent(
        str(entry_id), str(fields["e"]), str(fields["d"]), None if tokens is None else int(tokens)
    )

"""Generation streams inside one process, for the all-in-one mode: same contract as Redis,
expiry included (what has expired is forgotten, as Redis forgets it)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from minichat_api.streams.base import StreamEvent, events_after


@dataclass
class _Stream:
    events: list[StreamEvent] = field(default_factory=list)
    expires_at: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


# How often, at most, expired streams and heartbeats are looked for.
_SWEEP_SECONDS = 1.0


class MemoryGenerationStreams:
    def __init__(
        self,
        *,
        retention_seconds: float,
        max_events: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._retention = retention_seconds
        self._max_events = max_events
        self._clock = clock
        self._next_sweep = clock() + _SWEEP_SECONDS
        self._streams: dict[uuid.UUID, _Stream] = {}
        # One process, one runner listening: a single queue loses no signal between reads.
        self._cancel_queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
        self._runners: dict[str, float] = {}
        self._last_id = (0, 0)

    def _next_id(self) -> str:
        milliseconds = int(time.time() * 1000)
        last_ms, last_seq = self._last_id
        self._last_id = (milliseconds, 0) if milliseconds > last_ms else (last_ms, last_seq + 1)
        return f"{self._last_id[0]}-{self._last_id[1]}"

    def _sweep(self) -> None:
        """Forget what has expired, every `_SWEEP_SECONDS` at most: one pass over everything
        kept, so the process holds only the streams of the retention window."""
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_SECONDS
        self._streams = {g: s for g, s in self._streams.items() if s.expires_at > now}
        self._runners = {r: at for r, at in self._runners.items() if at > now}

    def _live(self, generation_id: uuid.UUID) -> _Stream | None:
        stream = self._streams.get(generation_id)
        if stream is not None and stream.expires_at <= self._clock():
            del self._streams[generation_id]
            return None
        return stream

    def _open(self, generation_id: uuid.UUID) -> _Stream:
        """The stream, created empty if need be (readers may wait before the first append)."""
        stream = self._live(generation_id)
        if stream is None:
            stream = self._streams[generation_id] = _Stream(
                expires_at=self._clock() + self._retention
            )
        return stream

    async def append(
        self,
        generation_id: uuid.UUID,
        events: Sequence[tuple[str, dict[str, Any]]],
        *,
        tokens: int | None = None,
    ) -> list[str]:
        self._sweep()
        stream = self._open(generation_id)
        if stream.events and stream.events[-1].event == "done":
            return []
        ids = []
        for event, data in events:
            raw = json.dumps(data, separators=(",", ":"))
            entry = StreamEvent(self._next_id(), event, raw, tokens)
            stream.events.append(entry)
            ids.append(entry.id)
        del stream.events[: max(0, len(stream.events) - self._max_events)]
        stream.expires_at = self._clock() + self._retention
        stream.changed.set()
        stream.changed = asyncio.Event()
        return ids

    def writing(self, generation_id: uuid.UUID) -> AbstractContextManager[None]:  # noqa: ARG002
        return nullcontext()  # every follower is in this process and wakes on each append

    async def read(
        self, generation_id: uuid.UUID, after: str | None, *, block_ms: int, count: int = 500
    ) -> list[StreamEvent]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            stream = self._live(generation_id)
            fresh = self._after(stream, after)[:count]
            if fresh or block_ms <= 0 or time.monotonic() >= deadline:
                return fresh
            waiter = self._open(generation_id).changed
            try:
                await asyncio.wait_for(waiter.wait(), deadline - time.monotonic())
            except TimeoutError:
                return []

    async def follow(
        self, generation_id: uuid.UUID, after: str | None, *, idle_seconds: float
    ) -> AsyncIterator[list[StreamEvent]]:
        while True:
            batch = await self.read(generation_id, after, block_ms=int(idle_seconds * 1000))
            if batch:
                after = batch[-1].id
            yield batch

    @staticmethod
    def _after(stream: _Stream | None, after: str | None) -> list[StreamEvent]:
        return [] if stream is None else events_after(stream.events, after)

    async def exists(self, generation_id: uuid.UUID) -> bool:
        stream = self._live(generation_id)
        return stream is not None and bool(stream.events)

    async def last_event(self, generation_id: uuid.UUID) -> StreamEvent | None:
        stream = self._live(generation_id)
        return stream.events[-1] if stream is not None and stream.events else None

    async def request_cancel(self, generation_id: uuid.UUID) -> None:
        self._cancel_queue.put_nowait(generation_id)

    async def next_cancel(self) -> uuid.UUID:
        return await self._cancel_queue.get()

    async def heartbeat(self, runner_id: str, ttl_ms: int) -> None:
        self._sweep()
        self._runners[runner_id] = self._clock() + ttl_ms / 1000

    async def alive(self, runner_ids: Sequence[str]) -> dict[str, bool]:
        now = self._clock()
        return {r: self._runners.get(r, 0) > now for r in runner_ids}

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._streams.clear()

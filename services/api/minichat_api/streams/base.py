"""The interface the runner and the SSE route use; Redis implements it across processes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

_EVENT_ID = re.compile(r"^([0-9]{1,20})-([0-9]{1,20})$")
_ID_PART_LIMIT = 1 << 64


def valid_event_id(value: str) -> bool:
    """Whether `value` can be a stream entry id (`<ms>-<seq>`, each part below 2**64, as
    Redis takes them)."""
    match = _EVENT_ID.match(value)
    return match is not None and all(int(part) < _ID_PART_LIMIT for part in match.groups())


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a sortable key: `1700000000000-2` -> (1700000000000, 2)."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


@dataclass(frozen=True)
class StreamEvent:
    """One stream entry; `raw` is its JSON data as stored, forwarded to clients untouched.
    `tokens`: on a delta, the answer's completion tokens up to its end (clients never see it;
    a process that adopts the generation counts on from there)."""

    id: str
    event: str
    raw: str
    tokens: int | None = None

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed


class GenerationStreams(Protocol):
    async def append(
        self,
        generation_id: uuid.UUID,
        events: Sequence[tuple[str, dict[str, Any]]],
        *,
        tokens: int | None = None,
    ) -> list[str]:
        """Append events in order; answers their ids. Refreshes the stream's retention.
        `tokens`: the answer's completion tokens once these events are written. A stream that
        ends with `done` takes nothing more: the answer is then no ids."""
        ...

    def writing(self, generation_id: uuid.UUID) -> AbstractContextManager[None]:
        """This process appends to the generation's stream during the block, so followers here
        can take its events as they are appended rather than by waiting on the shared stream."""
        ...

    async def read(
        self, generation_id: uuid.UUID, after: str | None, *, block_ms: int, count: int = 500
    ) -> list[StreamEvent]:
        """Events after `after` (all when None), waiting up to `block_ms` for the first one."""
        ...

    def follow(
        self, generation_id: uuid.UUID, after: str | None, *, idle_seconds: float
    ) -> AsyncIterator[list[StreamEvent]]:
        """Batches of events after `after` as they are appended, forever; an empty batch after
        `idle_seconds` without any, so the caller can look around."""
        ...

    async def exists(self, generation_id: uuid.UUID) -> bool: ...

    async def last_event(self, generation_id: uuid.UUID) -> StreamEvent | None:
        """The stream's newest event; None if the stream is gone (or never was)."""
        ...

    async def request_cancel(self, generation_id: uuid.UUID) -> None:
        """Broadcast the cancel to every process's `next_cancel`. Only those listening hear it;
        the database's `cancel_requested_at` is the record that lasts."""
        ...

    async def next_cancel(self) -> uuid.UUID:
        """Wait for the next cancel signal raised by any process."""
        ...

    async def heartbeat(self, runner_id: str, ttl_ms: int) -> None: ...

    async def alive(self, runner_ids: Sequence[str]) -> dict[str, bool]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def events_after(events: Iterable[StreamEvent], after: str | None) -> list[StreamEvent]:
    """The events whose ids come after `after` (all of them when None)."""
    if after is None:
        return list(events)
    position = entry_key(after)
    return [e for e in events if entry_key(e.id) > position]

"""The SSE feed of one generation: its Redis stream from an event id, or its stored result.

Frames are written as bytes straight from the stored JSON: one send per batch of entries,
no decoding and re-encoding per client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from enum import Enum
from typing import Protocol

from minichat.errors import InvalidInput
from minichat_api import metrics
from minichat_api.streams.base import GenerationStreams, StreamEvent, entry_key, events_after
from minichat_api.streams.closing import Ending

logger = logging.getLogger(__name__)

_PING = b": ping\n\n"
_POLL_TIMEOUT_SECONDS = 3.0
# Redis's entry ids are its clock's milliseconds: one this far past ours was never given out.
_CLOCK_SLACK_MS = 60_000


def frame(events: Iterable[StreamEvent]) -> bytes:
    return "".join(f"id: {e.id}\nevent: {e.event}\ndata: {e.raw}\n\n" for e in events).encode()


class Endings(Protocol):
    """How a finished generation ended, as the database has it: None while it runs."""

    async def ending(self, generation_id: uuid.UUID) -> Ending | None: ...

    async def answer(self, generation_id: uuid.UUID) -> tuple[Ending, str] | None:
        """Its ending and the text of its answer ('' for none)."""
        ...


class Whereabouts(Enum):
    """Where a generation stood when its client asked for the stream."""

    RUNNING_HERE = "running here"
    RUNNING_ELSEWHERE = "running elsewhere"
    ENDED = "ended"


async def open_feed(
    generation_id: uuid.UUID,
    after: str | None,
    *,
    after_field: str = "Last-Event-ID",
    whereabouts: Whereabouts,
    streams: GenerationStreams,
    endings: Endings,
    ping_seconds: float = 5.0,
) -> AsyncIterator[bytes] | None:
    """The SSE body for a client that has seen up to `after` (named by `after_field`); None
    when the generation has ended and the client has everything, its `done` too. A live feed
    sends a comment at once and after every `ping_seconds` without an event, whatever the
    generation is doing (queued, waiting on a busy model), so no proxy takes it for idle."""
    if after is not None and entry_key(after)[0] > time.time() * 1000 + _CLOCK_SLACK_MS:
        raise InvalidInput(
            f"{after_field} is later than any event this stream can have sent",
            field=after_field,
            code="invalid_last_event_id",
        )
    if whereabouts is not Whereabouts.ENDED:
        # An id past the stream's last one is followed from, not refused: Redis may have lost
        # its newest entries (a failover), and what comes next still has later ids.
        repair = whereabouts is Whereabouts.RUNNING_ELSEWHERE
        return _counted(_live(generation_id, after, streams, endings, ping_seconds, repair=repair))
    newest = await streams.last_event(generation_id)
    if newest is None:
        replay = await _stored_replay(generation_id, endings)
        if replay is not None:
            missed = _replay_after(replay, after)
            return _counted(_once(frame(missed))) if missed else None
    elif newest.event != "done":
        await _close_ended(generation_id, streams, endings)
    elif after is not None and entry_key(after) >= entry_key(newest.id):
        return None
    return _counted(_live(generation_id, after, streams, endings, ping_seconds, repair=True))


async def _counted(feed: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    metrics.ACTIVE_STREAMS.inc()
    try:
        async for chunk in feed:
            yield chunk
    finally:
        metrics.ACTIVE_STREAMS.dec()


async def _once(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


async def _live(
    generation_id: uuid.UUID,
    after: str | None,
    streams: GenerationStreams,
    endings: Endings,
    ping_seconds: float,
    *,
    repair: bool,
) -> AsyncIterator[bytes]:
    """`repair`: close the stream from the database if its writer died after committing the
    end (pointless for a generation this process runs: its death would end this feed too).
    Each quiet `ping_seconds` is also when the feed checks that the stream is still there."""
    yield _PING  # at once: the client and the proxies between know the stream is open
    async for followed in streams.follow(generation_id, after, idle_seconds=ping_seconds):
        # Skip what the poll below may already have sent.
        events = events_after(followed, after)
        if not followed:
            # A quiet while: read the stream directly too, so a delivery the follower missed
            # costs a few seconds, never a client waiting forever.
            try:
                events = await asyncio.wait_for(
                    streams.read(generation_id, after, block_ms=0), _POLL_TIMEOUT_SECONDS
                )
            except Exception as exc:
                logger.warning("generation %s: stream unreadable (%r)", generation_id, exc)
                ended = await _stored_replay(generation_id, endings)
                if ended is not None:
                    yield frame(_closing(ended))
                    return
                yield _PING
                continue
            if events:
                logger.warning(
                    "generation %s: %d events reached the feed by polling",
                    generation_id,
                    len(events),
                )
        for position, event in enumerate(events):
            if event.event == "done":
                yield frame(events[: position + 1])
                return
        if events:
            after = events[-1].id
            yield frame(events)
        elif not await streams.exists(generation_id):
            # The stream expired or was lost while we waited: end with what the database knows.
            replay = await _stored_replay(generation_id, endings)
            if replay is not None:
                yield frame(_closing(replay))
                return
            yield _PING  # not written yet: queued, or its model server is busy
        else:
            if repair:
                try:
                    await _close_ended(generation_id, streams, endings)
                except Exception as exc:  # the next quiet check tries again
                    logger.warning("generation %s: end unreadable (%r)", generation_id, exc)
            yield _PING


def _replay_after(replay: list[StreamEvent], after: str | None) -> list[StreamEvent]:
    """The stored replay after `after`: one of the replay's own ids, or else one of the expired
    stream's, and which text that client has is no longer known: it gets the closing events,
    and the whole text is in the chat's messages."""
    if after is None or entry_key(after) <= entry_key(replay[-1].id):
        return events_after(replay, after)
    return _closing(replay)


def _closing(replay: list[StreamEvent]) -> list[StreamEvent]:
    """The closing events of a stored replay (`error` when there was one, `usage`, `done`):
    what every path that ends a stream from the database sends a client whose text so far is
    its own (the whole answer is in the chat's messages)."""
    return [event for event in replay if event.event != "delta"]


async def _close_ended(
    generation_id: uuid.UUID,
    streams: GenerationStreams,
    endings: Endings,
) -> None:
    """A generation whose end is committed but whose stream has no `done` (its runner died
    between the two) gets its closing events, for every follower; when the runner did write
    them after all, the stream, already ended, takes no second `done`."""
    ending = await endings.ending(generation_id)
    if ending is not None and await streams.append(generation_id, ending.events()):
        logger.warning("generation %s: ended with no done in its stream; closed it", generation_id)


async def _stored_replay(generation_id: uuid.UUID, endings: Endings) -> list[StreamEvent] | None:
    """The stream of a finished generation rebuilt from the database, once Redis let it go."""
    ended = await endings.answer(generation_id)
    if ended is None:
        return None
    ending, text = ended
    events = ([("delta", {"text": text, "index": 0})] if text else []) + ending.events()
    return [
        StreamEvent(f"0-{number}", name, json.dumps(data, separators=(",", ":")))
        for number, (name, data) in enumerate(events, start=1)
    ]

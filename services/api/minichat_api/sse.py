"""The SSE feed of one generation: its Redis stream from an event id, or its stored result."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.db.models import Generation, Message
from minichat.statuses import GenerationStatus
from minichat_api import metrics
from minichat_api.final_events import final_events
from minichat_api.streams import GenerationStreams

# How long one read waits before looking at the database for a generation that ended unseen.
_IDLE_CHECK_SECONDS = 5.0


async def generation_events(
    generation_id: uuid.UUID,
    after: str | None,
    streams: GenerationStreams,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[dict[str, Any]]:
    metrics.ACTIVE_STREAMS.inc()
    try:
        if not await streams.exists(generation_id):
            replay = await _stored_replay(generation_id, sessions)
            if replay is not None:
                for event in replay:
                    if after is None or _id_key(event["id"]) > _id_key(after):
                        yield event
                return
        async for event in _live(generation_id, after, streams, sessions):
            yield event
    finally:
        metrics.ACTIVE_STREAMS.dec()


async def _live(
    generation_id: uuid.UUID,
    after: str | None,
    streams: GenerationStreams,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[dict[str, Any]]:
    async for events in streams.follow(generation_id, after, idle_seconds=_IDLE_CHECK_SECONDS):
        for event in events:
            yield {"id": event.id, "event": event.event, "data": _json(event.data)}
            if event.event == "done":
                return
        if not events and not await streams.exists(generation_id):
            # The stream expired or was lost while we waited: end with what the database knows.
            replay = await _stored_replay(generation_id, sessions)
            if replay is not None:
                yield replay[-1]
                return


async def _stored_replay(
    generation_id: uuid.UUID, sessions: async_sessionmaker[AsyncSession]
) -> list[dict[str, Any]] | None:
    """The stream of a finished generation rebuilt from the database, once Redis let it go."""
    async with sessions() as session:
        generation = await session.get(Generation, generation_id)
        if generation is None or not GenerationStatus(generation.status).is_terminal:
            return None
        message = (
            await session.get(Message, generation.assistant_message_id)
            if generation.assistant_message_id
            else None
        )
    events: list[tuple[str, dict[str, Any]]] = []
    if message is not None and message.content:
        events.append(("delta", {"text": message.content, "index": 0}))
    error = (
        (generation.error_code, generation.error_message or "") if generation.error_code else None
    )
    events += final_events(
        GenerationStatus(generation.status),
        error,
        generation.prompt_tokens or 0,
        generation.completion_tokens or 0,
    )
    return [
        {"id": f"0-{number}", "event": name, "data": _json(data)}
        for number, (name, data) in enumerate(events, start=1)
    ]


def _id_key(event_id: str) -> tuple[int, int]:
    milliseconds, sequence = event_id.split("-")
    return int(milliseconds), int(sequence)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))

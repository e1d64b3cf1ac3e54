"""A follower that stops taking events (an SSE client that stops reading) holds a bounded
number of them in the api, and once it reads again gets every one, in order, with no gap."""

from __future__ import annotations

import asyncio
import tracemalloc
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, nullcontext
from typing import cast

import pytest

from minichat_api.streams import StreamEvent
from minichat_api.streams.redis_streams import RedisGenerationStreams
from tests.conftest import REDIS_URL

EVENTS = 4000
TEXT = "x" * 2000  # 8 MB of text in all


@pytest.fixture
async def stores(redis_prefix: str) -> AsyncIterator[tuple[RedisGenerationStreams, ...]]:
    """Two api processes' streams on one Redis: the reader's, and another writer's."""
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            store = RedisGenerationStreams.from_url(
                REDIS_URL,
                prefix=f"{redis_prefix}slow:",
                retention_seconds=60,
                max_events=20_000,
            )
            stack.push_async_callback(store.close)
            made.append(store)
        yield tuple(made)


@pytest.mark.parametrize("writer", ["this process", "another process"])
async def test_a_follower_that_stops_reading_holds_a_bounded_backlog(
    stores: tuple[RedisGenerationStreams, RedisGenerationStreams], writer: str
) -> None:
    reader, other = stores
    store = reader if writer == "this process" else other
    generation = uuid.uuid4()
    follower = cast(
        AsyncGenerator[list[StreamEvent]], reader.follow(generation, None, idle_seconds=0.2)
    )
    assert await anext(follower) == []  # following, with nothing written yet
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with store.writing(generation) if store is reader else nullcontext():
            for index in range(EVENTS):
                await store.append(generation, [("delta", {"text": TEXT, "index": index})])
        await asyncio.sleep(1.5)  # the reader's hub has read and handed out all it would
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4_000_000, f"{held} bytes held for a follower that reads nothing"

    indexes: list[int] = []
    while len(indexes) < EVENTS:
        batch = await asyncio.wait_for(anext(follower), 10)
        indexes += [event.data["index"] for event in batch]
    assert indexes == list(range(EVENTS))
    await follower.aclose()

"""The contract every generation-stream store keeps: Redis (production) and memory (all-in-one)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from minichat_api.streams import GenerationStreams, StreamEvent
from minichat_api.streams.memory_streams import MemoryGenerationStreams
from minichat_api.streams.redis_streams import RedisGenerationStreams
from tests.conftest import REDIS_URL
from tests.eventually import eventually

RETENTION_SECONDS = 1


@pytest.fixture(params=["redis", "memory"])
async def streams(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[GenerationStreams]:
    store: GenerationStreams
    if request.param == "redis":
        store = RedisGenerationStreams.from_url(
            REDIS_URL,
            prefix=f"{redis_prefix}contract:",
            retention_seconds=RETENTION_SECONDS,
            max_events=1000,
        )
    else:
        store = MemoryGenerationStreams(retention_seconds=RETENTION_SECONDS, max_events=1000)
    yield store
    await store.close()


def _ordered(ids: list[str]) -> bool:
    keys = [tuple(int(part) for part in i.split("-")) for i in ids]
    return keys == sorted(keys) and len(set(keys)) == len(keys)


async def test_append_then_read_all_and_after(streams: GenerationStreams) -> None:
    generation = uuid.uuid4()
    assert not await streams.exists(generation)
    ids = await streams.append(generation, [("delta", {"text": "a", "index": 0})])
    ids += await streams.append(
        generation, [("delta", {"text": "b", "index": 1}), ("done", {"status": "succeeded"})]
    )
    assert _ordered(ids)
    assert await streams.exists(generation)
    everything = await streams.read(generation, None, block_ms=0)
    assert [e.id for e in everything] == ids
    assert [e.event for e in everything] == ["delta", "delta", "done"]
    assert everything[1].data == {"text": "b", "index": 1}
    assert await streams.read(generation, ids[0], block_ms=0) == everything[1:]
    assert await streams.read(generation, ids[-1], block_ms=0) == []
    newest = await streams.last_event(generation)
    assert newest is not None
    assert (newest.id, newest.event) == (ids[-1], "done")


async def test_a_delta_keeps_the_token_count_clients_do_not_see(
    streams: GenerationStreams,
) -> None:
    generation = uuid.uuid4()
    await streams.append(generation, [("delta", {"text": "a b c", "index": 0})], tokens=3)
    await streams.append(generation, [("done", {"status": "succeeded"})])
    delta, done = await streams.read(generation, None, block_ms=0)
    assert (delta.tokens, done.tokens) == (3, None)
    assert delta.data == {"text": "a b c", "index": 0}
    assert await streams.last_event(uuid.uuid4()) is None


async def test_a_stream_that_has_its_done_takes_nothing_more(streams: GenerationStreams) -> None:
    """Whoever writes last (a runner that lost its lease, a second closing): `done` stays last."""
    generation = uuid.uuid4()
    written = await streams.append(generation, [("delta", {"text": "a", "index": 0})])
    written += await streams.append(generation, [("done", {"status": "canceled"})])
    late: list[tuple[str, dict[str, Any]]] = [
        ("delta", {"text": "b", "index": 1}),
        ("done", {"status": "succeeded"}),
    ]
    assert await streams.append(generation, late) == []
    everything = await streams.read(generation, None, block_ms=0)
    assert [e.id for e in everything] == written
    assert everything[-1].data == {"status": "canceled"}


async def test_read_waits_for_the_next_append(streams: GenerationStreams) -> None:
    generation = uuid.uuid4()
    reader = asyncio.create_task(streams.read(generation, None, block_ms=5000))
    await asyncio.sleep(0.05)
    assert not reader.done()
    await streams.append(generation, [("delta", {"text": "late", "index": 0})])
    received = await asyncio.wait_for(reader, 5)
    assert [e.data["text"] for e in received] == ["late"]
    assert await streams.read(uuid.uuid4(), None, block_ms=50) == []


async def test_follow_delivers_in_order_and_reports_quiet(streams: GenerationStreams) -> None:
    generation = uuid.uuid4()
    first = await streams.append(generation, [("delta", {"text": "0", "index": 0})])
    follower = streams.follow(generation, None, idle_seconds=0.3)
    seen: list[str] = []

    async def write() -> None:
        for index in range(1, 20):
            await streams.append(generation, [("delta", {"text": str(index), "index": index})])
        await streams.append(generation, [("done", {"status": "succeeded"})])

    writer = asyncio.create_task(write())
    async for batch in follower:
        seen += [e.id for e in batch]
        if batch and batch[-1].event == "done":
            break
    await writer
    assert seen[0] == first[0]
    assert len(seen) == 21
    assert _ordered(seen)
    quiet = streams.follow(generation, seen[-1], idle_seconds=0.2)
    assert await anext(quiet) == []
    await quiet.aclose()  # type: ignore[attr-defined]
    await follower.aclose()  # type: ignore[attr-defined]


async def test_followers_of_a_stream_this_process_writes_miss_nothing(
    streams: GenerationStreams,
) -> None:
    generation = uuid.uuid4()
    with streams.writing(generation):
        before = await streams.append(generation, [("delta", {"text": "0", "index": 0})])
        early = streams.follow(generation, None, idle_seconds=0.3)
        late_task = asyncio.create_task(
            _follow_to_done(streams.follow(generation, before[0], idle_seconds=0.3))
        )
        written = before[:]
        for index in range(1, 30):
            written += await streams.append(
                generation, [("delta", {"text": str(index), "index": index})]
            )
            if index % 10 == 0:
                await asyncio.sleep(0.01)
        written += await streams.append(generation, [("done", {"status": "succeeded"})])
        assert await asyncio.wait_for(_follow_to_done(early), 10) == written
        assert await asyncio.wait_for(late_task, 10) == written[1:]


async def test_a_stream_another_process_takes_over_still_reaches_followers(
    redis_prefix: str,
) -> None:
    """This process wrote, then stopped (say its lease was lost); another one goes on."""
    generation = uuid.uuid4()
    async with _two_processes(f"{redis_prefix}takeover:") as (here, there):
        with here.writing(generation):
            written = await here.append(generation, [("delta", {"text": "a", "index": 0})])
            follower = asyncio.create_task(
                _follow_to_done(here.follow(generation, None, idle_seconds=30))
            )
            written += await here.append(generation, [("delta", {"text": "b", "index": 1})])
        written += await there.append(
            generation, [("delta", {"text": "c", "index": 2}), ("done", {"status": "succeeded"})]
        )
        # Within the hub's blocking read (1 s), not the follower's 30 s idle poll.
        assert await asyncio.wait_for(follower, 5) == written


async def test_a_writer_that_lost_its_lease_leaves_no_gap_for_followers_here(
    redis_prefix: str,
) -> None:
    """Another process appends between two of this process's appends (a writer that has not
    yet noticed it lost the generation): a follower here still gets every entry, in order."""
    generation = uuid.uuid4()
    async with _two_processes(f"{redis_prefix}interleaved:") as (here, there):
        with here.writing(generation):
            written = await here.append(generation, [("delta", {"text": "a", "index": 0})])
            follower = asyncio.create_task(
                _follow_to_done(here.follow(generation, None, idle_seconds=30))
            )
            for index, writer in enumerate((there, here, there, there, here), start=1):
                written += await writer.append(
                    generation, [("delta", {"text": str(index), "index": index})]
                )
                await asyncio.sleep(0.01)
            written += await here.append(generation, [("done", {"status": "succeeded"})])
            # Within the hub's read for followers behind, not the follower's 30 s idle poll.
            assert await asyncio.wait_for(follower, 5) == written


async def test_a_refused_append_still_brings_followers_here_the_done(
    redis_prefix: str,
) -> None:
    """Another process ended the stream while this one still writes: the refusal is the news
    that there is a `done` to read, for followers that the blocking read leaves out."""
    generation = uuid.uuid4()
    async with _two_processes(f"{redis_prefix}refused:") as (here, there):
        with here.writing(generation):
            written = await here.append(generation, [("delta", {"text": "a", "index": 0})])
            following = here.follow(generation, None, idle_seconds=30)
            first = await asyncio.wait_for(anext(following), 5)
            assert [e.id for e in first] == written
            # The follower has read "a"; its next read waits for more.
            follower = asyncio.create_task(_follow_to_done(following))
            written += await there.append(generation, [("done", {"status": "canceled"})])
            assert await here.append(generation, [("delta", {"text": "b", "index": 1})]) == []
            assert [e.id for e in first] + await asyncio.wait_for(follower, 5) == written


@asynccontextmanager
async def _two_processes(
    prefix: str,
) -> AsyncIterator[tuple[RedisGenerationStreams, RedisGenerationStreams]]:
    """The streams of two api processes sharing one Redis."""
    here, there = (
        RedisGenerationStreams.from_url(
            REDIS_URL, prefix=prefix, retention_seconds=60, max_events=1000
        )
        for _ in range(2)
    )
    try:
        yield here, there
    finally:
        await here.close()
        await there.close()


async def _follow_to_done(follower: AsyncIterator[list[StreamEvent]]) -> list[str]:
    seen: list[str] = []
    async for batch in follower:
        seen += [e.id for e in batch]
        if batch and batch[-1].event == "done":
            break
    await follower.aclose()  # type: ignore[attr-defined]
    return seen


async def test_streams_expire_after_retention(streams: GenerationStreams) -> None:
    generation = uuid.uuid4()
    await streams.append(generation, [("done", {"status": "succeeded"})])
    assert await streams.exists(generation)
    await asyncio.sleep(RETENTION_SECONDS + 0.5)
    assert not await streams.exists(generation)


async def test_a_cancel_is_announced_to_listeners(streams: GenerationStreams) -> None:
    generation = uuid.uuid4()
    listener = asyncio.create_task(streams.next_cancel())

    async def heard() -> bool:
        # Only a subscribed listener hears a broadcast: announce until it has subscribed.
        await streams.request_cancel(generation)
        await asyncio.wait({listener}, timeout=0.05)
        return listener.done()

    await eventually(heard, "the listener to hear the cancel", 5)
    assert listener.result() == generation


async def test_heartbeats_expire(streams: GenerationStreams) -> None:
    await streams.heartbeat("runner-a", 300)
    await streams.heartbeat("runner-b", 10_000)
    assert await streams.alive(["runner-a", "runner-b", "runner-c"]) == {
        "runner-a": True,
        "runner-b": True,
        "runner-c": False,
    }
    await asyncio.sleep(0.5)
    assert (await streams.alive(["runner-a"]))["runner-a"] is False

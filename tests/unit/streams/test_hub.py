"""The stream hub's dispatch, on an in-memory stand-in for the Redis commands it sends: each
follower gets its stream's entries in order, once each, whether they were read or handed over
by a local append; a follower that stops taking them is left out, then read for; a stream
nobody follows is no longer read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from minichat_api.streams import StreamEvent, entry_key
from minichat_api.streams import hub as hub_module
from minichat_api.streams.hub import StreamHub, entry_event
from tests.eventually import eventually

Entry = tuple[str, dict[str, str]]
Follower = AsyncGenerator[list[StreamEvent]]


class StreamsRedis:
    """XREAD (blocking or not) and a pipeline's XADD over streams kept in memory, as Redis
    answers them (RESP2), with each read it was sent kept in `reads`."""

    def __init__(self) -> None:
        self.streams: dict[str, list[Entry]] = {}
        self.reads: list[dict[str, str]] = []
        self._sequence = 0
        self._changed = asyncio.Event()

    def xadd(self, key: str, fields: dict[str, str]) -> str:
        self._sequence += 1
        entry_id = f"1700000000000-{self._sequence}"
        self.streams.setdefault(key, []).append((entry_id, fields))
        self._changed.set()
        self._changed = asyncio.Event()
        return entry_id

    async def xread(
        self, streams: dict[str, str], count: int | None = None, block: int | None = None
    ) -> list[list[Any]]:
        self.reads.append(dict(streams))
        deadline = asyncio.get_running_loop().time() + (block or 0) / 1000
        while True:
            answer: list[list[Any]] = []
            for key, last in streams.items():
                after = [e for e in self.streams.get(key, []) if entry_key(e[0]) > entry_key(last)]
                if after:
                    answer.append([key, after[:count]])
            remaining = deadline - asyncio.get_running_loop().time()
            if answer or block is None or remaining <= 0:
                return answer
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return []

    def pipeline(self, transaction: bool = True) -> Pipeline:  # noqa: ARG002
        return Pipeline(self)

    def reads_of(self, key: str) -> list[str]:
        """The positions `key` was read from, in order."""
        return [streams[key] for streams in self.reads if key in streams]


class Pipeline:
    def __init__(self, stand_in: StreamsRedis) -> None:
        self._redis = stand_in
        self._added: list[tuple[str, dict[str, str]]] = []

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: object, _tb: TracebackType | None
    ) -> None:
        return None

    def xadd(self, key: str, fields: dict[str, str], **_options: Any) -> None:
        self._added.append((key, fields))

    def pexpire(self, key: str, milliseconds: int) -> None:
        pass

    async def execute(self) -> list[Any]:
        return [self._redis.xadd(key, fields) for key, fields in self._added]


def delta(index: int) -> dict[str, str]:
    return {"e": "delta", "d": f'{{"text":"t{index}","index":{index}}}', "t": str(index + 1)}


DONE = {"e": "done", "d": '{"status":"succeeded"}'}


@pytest.fixture
def stand_in() -> StreamsRedis:
    """In place of Redis: no server."""
    return StreamsRedis()


@pytest.fixture
async def hub(stand_in: StreamsRedis, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StreamHub]:
    # Blocking reads of 100 ms rather than 1 s: the tests see the reader's rounds sooner.
    monkeypatch.setattr(hub_module, "_BLOCK_MS", 100)
    hub = StreamHub(cast(Redis, stand_in), "test:hub:wake")
    yield hub
    await hub.close()


def append_here(hub: StreamHub, stand_in: StreamsRedis, key: str, *entries: dict[str, str]) -> None:
    """An append by this process, as RedisGenerationStreams makes it: written, then handed to
    the hub with the id of the entry before it."""
    existing = stand_in.streams.get(key)
    previous = existing[-1][0] if existing else "0-0"
    ids = [stand_in.xadd(key, fields) for fields in entries]
    hub.delivered(key, previous, [entry_event(i, f) for i, f in zip(ids, entries, strict=True)])


def follow(hub: StreamHub, key: str, after: str | None = None, idle: float = 0.2) -> Follower:
    return cast(Follower, hub.follow(key, after, idle))


async def following(follower: Follower) -> None:
    """Wait until `follower` has joined and read what was there: its first (idle) batch."""
    assert await asyncio.wait_for(anext(follower), 5) == []


async def take(follower: Follower, count: int) -> list[StreamEvent]:
    """The next `count` entries, empty batches (quiet spells) skipped; a hang fails in 5 s."""
    taken: list[StreamEvent] = []
    async with asyncio.timeout(5):
        while len(taken) < count:
            taken += await anext(follower)
    return taken


def ids_of(stand_in: StreamsRedis, key: str) -> list[str]:
    return [entry_id for entry_id, _ in stand_in.streams[key]]


async def test_a_follower_gets_another_writers_entries_in_order(
    hub: StreamHub, stand_in: StreamsRedis
) -> None:
    key = "gen:other"
    for index in range(2):  # written before it came
        stand_in.xadd(key, delta(index))
    follower = follow(hub, key)
    reading = asyncio.create_task(take(follower, 7))
    for index in range(2, 6):
        await asyncio.sleep(0.01)
        stand_in.xadd(key, delta(index))
    stand_in.xadd(key, DONE)
    received = await reading
    assert [e.id for e in received] == ids_of(stand_in, key)
    assert [e.event for e in received] == ["delta"] * 6 + ["done"]
    assert [e.data["index"] for e in received[:6]] == list(range(6))
    assert received[5].tokens == 6
    await follower.aclose()


async def test_followers_of_one_stream_and_of_others_each_get_their_own(
    hub: StreamHub, stand_in: StreamsRedis
) -> None:
    one, two = "gen:one", "gen:two"
    first = stand_in.xadd(one, delta(0))
    from_start, from_first, of_two = (
        follow(hub, one),
        follow(hub, one, after=first),
        follow(hub, two),
    )
    readings = [
        asyncio.create_task(take(from_start, 5)),
        asyncio.create_task(take(from_first, 4)),
        asyncio.create_task(take(of_two, 4)),
    ]
    for index in range(1, 5):
        await asyncio.sleep(0.01)
        stand_in.xadd(one, delta(index))
        stand_in.xadd(two, delta(index))
    got_start, got_first, got_two = await asyncio.gather(*readings)
    assert [e.id for e in got_start] == ids_of(stand_in, one)
    assert [e.id for e in got_first] == ids_of(stand_in, one)[1:]
    assert [e.id for e in got_two] == ids_of(stand_in, two)
    for follower in (from_start, from_first, of_two):
        await follower.aclose()


async def test_local_appends_are_handed_over_without_a_read(
    hub: StreamHub, stand_in: StreamsRedis
) -> None:
    key = "gen:here"
    with hub.writing(key):
        follower = follow(hub, key)
        await following(follower)
        reads_before = len(stand_in.reads_of(key))
        for index in range(3):
            append_here(hub, stand_in, key, delta(2 * index), delta(2 * index + 1))
        received = await take(follower, 6)
        assert [e.id for e in received] == ids_of(stand_in, key)
        assert len(stand_in.reads_of(key)) == reads_before, "the hub read what it was handed"
        await follower.aclose()


async def test_a_follower_behind_a_local_append_is_read_for_with_no_gap(
    hub: StreamHub, stand_in: StreamsRedis
) -> None:
    """Another process wrote between this follower's last entry and a local append (a
    takeover): the append alone would leave a gap, so the hub reads from its last entry."""
    key = "gen:taken-over"
    with hub.writing(key):
        follower = follow(hub, key)
        await following(follower)
        append_here(hub, stand_in, key, delta(0))
        assert [e.id for e in await take(follower, 1)] == ids_of(stand_in, key)
        stand_in.xadd(key, delta(1))  # another process; not in the blocking read, so not seen yet
        append_here(hub, stand_in, key, delta(2))
        received = await take(follower, 2)
        assert [e.data["index"] for e in received] == [1, 2]
        assert ids_of(stand_in, key)[0] in stand_in.reads_of(key)
        await follower.aclose()


async def test_a_follower_that_stops_taking_is_left_out_then_read_for_from_where_it_stopped(
    hub: StreamHub, stand_in: StreamsRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "MAX_QUEUED", 10)
    key = "gen:slow-reader"
    with hub.writing(key):
        slow, fast = follow(hub, key), follow(hub, key)
        await following(slow)
        await following(fast)
        keeping_up = asyncio.create_task(take(fast, 30))
        for index in range(30):
            append_here(hub, stand_in, key, delta(index))
            await asyncio.sleep(0)
        ids = ids_of(stand_in, key)
        # The follower that reads on is not held back by the one that stopped.
        assert [e.id for e in await keeping_up] == ids
        assert ids[9] not in stand_in.reads_of(key)

        received = await take(slow, 30)
        assert [e.id for e in received] == ids
        # It held ten; the rest were left in Redis and read for it once it took half of those.
        assert ids[9] in stand_in.reads_of(key)
        for follower in (slow, fast):
            await follower.aclose()


async def test_a_quiet_stream_gives_its_follower_an_empty_batch(hub: StreamHub) -> None:
    follower = follow(hub, "gen:quiet", idle=0.05)
    for _ in range(3):
        assert await asyncio.wait_for(anext(follower), 1) == []
    await follower.aclose()


async def test_a_stream_nobody_follows_any_more_is_no_longer_read(
    hub: StreamHub, stand_in: StreamsRedis
) -> None:
    key = "gen:ended"
    follower = follow(hub, key)
    reading = asyncio.create_task(take(follower, 2))
    await asyncio.sleep(0.01)
    stand_in.xadd(key, delta(0))
    stand_in.xadd(key, DONE)
    assert [e.event for e in await reading] == ["delta", "done"]
    await follower.aclose()

    async def reads_stopped() -> bool:
        # Its blocking reads take 100 ms: a reader still running would read again meanwhile.
        reads = len(stand_in.reads)
        await asyncio.sleep(0.25)
        return len(stand_in.reads) == reads

    await eventually(reads_stopped, "the hub to stop reading with no follower", 5)

    # A new follower starts it again.
    again = follow(hub, "gen:next")
    reading = asyncio.create_task(take(again, 1))
    await asyncio.sleep(0.01)
    stand_in.xadd("gen:next", DONE)
    assert [e.event for e in await reading] == ["done"]
    assert key not in stand_in.reads[-1]
    await again.aclose()

"""One pipeline for every generation's appends: order, ids, expiry, and failures kept apart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from minichat_api.streams.redis_appends import Appended, AppendPipeline
from tests.conftest import REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def appends(redis: Redis) -> AsyncIterator[AppendPipeline]:
    pipeline = AppendPipeline(redis)
    yield pipeline
    await pipeline.close()


async def _entries(redis: Redis, key: str) -> list[tuple[str, dict[str, str]]]:
    entries: Any = await redis.xrange(key)
    return [(str(entry_id), dict(fields)) for entry_id, fields in entries]


def _entry(text: str) -> dict[str, str]:
    return {"e": "delta", "d": text}


async def test_concurrent_appends_keep_each_streams_order(
    redis: Redis, appends: AppendPipeline, redis_prefix: str
) -> None:
    keys = [f"{redis_prefix}appends:{n}" for n in range(50)]

    async def writer(key: str) -> list[str]:
        ids: list[str] = []
        for n in range(20):
            ids += (await appends.append(key, [_entry(str(n))], maxlen=1000, expire_ms=None)).ids
        return ids

    written = await asyncio.gather(*(writer(key) for key in keys))
    for key, ids in zip(keys, written, strict=True):
        entries = await _entries(redis, key)
        assert [entry_id for entry_id, _ in entries] == ids
        assert [fields["d"] for _, fields in entries] == [str(n) for n in range(20)]


async def test_several_entries_and_the_expiry_go_in_one_append(
    redis: Redis, appends: AppendPipeline, redis_prefix: str
) -> None:
    key = f"{redis_prefix}appends:expiry"
    appended = await appends.append(key, [_entry("a"), _entry("b")], maxlen=1000, expire_ms=60_000)
    ids = appended.ids
    assert len(ids) == 2
    assert [entry_id for entry_id, _ in await _entries(redis, key)] == ids
    assert 0 < await redis.pttl(key) <= 60_000


async def test_an_append_names_the_entry_before_it_whoever_wrote_that(
    redis: Redis, appends: AppendPipeline, redis_prefix: str
) -> None:
    key = f"{redis_prefix}appends:previous"
    first = await appends.append(key, [_entry("a")], maxlen=1000, expire_ms=None)
    assert first.previous == "0-0"
    second = await appends.append(key, [_entry("b"), _entry("c")], maxlen=1000, expire_ms=None)
    assert second.previous == first.ids[0]
    others = await redis.xadd(key, {"e": "delta", "d": "another writer's"})
    third = await appends.append(key, [_entry("d")], maxlen=1000, expire_ms=None)
    assert third.previous == str(others)
    assert [fields["d"] for _, fields in await _entries(redis, key)] == [
        *("a", "b", "c"),
        *("another writer's", "d"),
    ]


async def test_a_refused_append_fails_alone(
    redis: Redis, appends: AppendPipeline, redis_prefix: str
) -> None:
    broken = f"{redis_prefix}appends:not-a-stream"
    fine = f"{redis_prefix}appends:fine"
    await redis.set(broken, "a string, so XADD answers WRONGTYPE")
    outcomes = await asyncio.gather(
        appends.append(broken, [_entry("x")], maxlen=1000, expire_ms=None),
        appends.append(fine, [_entry("y")], maxlen=1000, expire_ms=None),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], ResponseError)
    assert isinstance(outcomes[1], Appended)
    assert await redis.xlen(fine) == 1


async def test_an_unreachable_redis_fails_each_append_and_the_writer_goes_on() -> None:
    unreachable = AppendPipeline(Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1))
    try:
        with pytest.raises(RedisConnectionError):
            await unreachable.append("k", [_entry("x")], maxlen=10, expire_ms=None)
        with pytest.raises(RedisConnectionError):
            await unreachable.append("k", [_entry("y")], maxlen=10, expire_ms=None)
    finally:
        await unreachable.close()


async def test_closing_fails_what_is_still_waiting(redis: Redis, redis_prefix: str) -> None:
    pipeline = AppendPipeline(redis)
    key = f"{redis_prefix}appends:closing"
    pending = [
        asyncio.create_task(pipeline.append(key, [_entry(str(n))], maxlen=1000, expire_ms=None))
        for n in range(100)
    ]
    await asyncio.sleep(0)
    await pipeline.close()
    outcomes = await asyncio.gather(*pending, return_exceptions=True)
    # None is left waiting: each was written, or told it may not have been.
    written = [o for o in outcomes if isinstance(o, Appended)]
    assert all(isinstance(o, Appended | RedisConnectionError) for o in outcomes)
    assert len(written) < len(outcomes)
    assert await redis.xlen(key) >= len(written)

"""Checkpoints: every streaming generation's text saved together, and what a round learns
(a lost lease, a cancel whose broadcast went astray) stops the generation it concerns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as redis

from minichat_api.settings import ApiSettings
from minichat_inference.backends.scripted import scripted_text
from tests.conftest import REDIS_URL
from tests.eventually import eventually
from tests.factories import register, start_generation
from tests.integration.generations.conftest import SLOW_TOKENS, running_api
from tests.processes import Service
from tests.sse import collect

CHECKPOINT_MS = 100


@pytest.fixture
async def client(
    settings: ApiSettings, slow_inference: Service
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_api(
        settings.model_copy(
            update={
                "inference_url": slow_inference.url,
                "checkpoint_interval_ms": CHECKPOINT_MS,
                # No adoption by this same process of what it let go, within a test.
                "reaper_interval_ms": 60_000,
            }
        )
    ) as http:
        yield http


async def _rows(db: psycopg.AsyncConnection, ids: list[str]) -> list[tuple[Any, ...]]:
    cursor = await db.execute(
        "SELECT partial_text, completion_tokens, checkpointed_at, status, runner_id"
        " FROM generations WHERE id = ANY(%s::uuid[]) ORDER BY id",
        (ids,),
    )
    return await cursor.fetchall()


async def test_streaming_generations_are_checkpointed_together(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    account = await register(client)
    generations = [await start_generation(client, account) for _ in range(3)]
    ids = [str(g["id"]) for g in generations]

    async def saved_in_one_round() -> list[tuple[Any, ...]] | None:
        rows = await _rows(db, ids)
        stamps = {row[2] for row in rows}
        return rows if None not in stamps and len(stamps) == 1 else None

    rows = await eventually(saved_in_one_round, "the three checkpoints written in one round", 5)
    answer = scripted_text(SLOW_TOKENS)
    for text, tokens, _at, status, _runner in rows:
        assert status == "streaming"
        assert text and answer.startswith(text)
        assert tokens > 0
    for generation_id in ids:
        await client.post(f"/api/generations/{generation_id}/cancel", headers=account.headers)


async def test_a_generation_another_runner_took_stops_streaming_here(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection, settings: ApiSettings
) -> None:
    """Of two generations saved in one round, the one whose lease is gone stops; the other
    goes on streaming and being checkpointed."""
    account = await register(client)
    taken = str((await start_generation(client, account))["id"])
    kept = str((await start_generation(client, account))["id"])
    await db.execute("UPDATE generations SET runner_id = 'another-runner' WHERE id = %s", (taken,))
    key = f"{settings.redis_key_prefix}gen:{taken}"
    store = redis.Redis.from_url(REDIS_URL)
    try:
        await asyncio.sleep(5 * CHECKPOINT_MS / 1000)  # the next round finds the lease gone
        length = await store.xlen(key)
        kept_saved = (await _rows(db, [kept]))[0][2]
        await asyncio.sleep(5 * CHECKPOINT_MS / 1000)
        assert await store.xlen(key) == length, "this process kept writing a stream it lost"
    finally:
        await store.aclose()
    ((_text, _tokens, _at, status, runner),) = await _rows(db, [taken])
    assert (status, runner) == ("streaming", "another-runner"), "it wrote an end it did not own"
    ((_text, _tokens, at, status, _runner),) = await _rows(db, [kept])
    assert status == "streaming" and at > kept_saved, "the other generation stopped too"
    await client.post(f"/api/generations/{kept}/cancel", headers=account.headers)


async def test_a_cancel_whose_broadcast_was_lost_stops_at_the_next_checkpoint(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    account = await register(client)
    generation = await start_generation(client, account)
    # The database's record alone, as a cancel leaves it when its broadcast reaches nobody
    # (a dropped subscription, a restarted Redis).
    await db.execute(
        "UPDATE generations SET cancel_requested_at = now() WHERE id = %s", (generation["id"],)
    )
    received = await asyncio.wait_for(
        collect(client, f"/api/generations/{generation['id']}/stream", account.headers), 5
    )
    assert received[-1].data == {"status": "canceled"}
    ((_text, _tokens, _at, status, _runner),) = await _rows(db, [str(generation["id"])])
    assert status == "canceled"

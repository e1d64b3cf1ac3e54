"""1,000 generations' usage events give aggregates equal to the sums over the generations table."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.contracts.events import EVENTS_QUEUE, UsageEvent
from minichat.db.models import Chat, Generation, User
from minichat.outbox import add_event
from minichat.statuses import GenerationStatus
from minichat_api.generation.store import finish
from minichat_api.outbox.relay import OutboxRelay
from tests.eventually import eventually
from tests.integration.events.conftest import Worker, queue_drained, requests_of

GENERATIONS = 1000
THROUGH_FINISH = 200  # the runner's own terminal transition; the rest on earlier days
MODELS = ("gemma-3-270m", "scripted", "gpt-oss")
FINAL = (GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.CANCELED)

EXPECTED_SQL = """
SELECT (finished_at AT TIME ZONE 'UTC')::date AS day, model, count(*),
       sum(prompt_tokens), sum(completion_tokens),
       count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'canceled'),
       coalesce(sum(ttft_ms), 0), count(ttft_ms),
       sum(extract(epoch FROM finished_at - coalesce(started_at, created_at)) * 1000)
FROM generations WHERE user_id = %s GROUP BY 1, 2 ORDER BY 1, 2
"""
ACTUAL_SQL = """
SELECT day, model, requests, prompt_tokens, completion_tokens, succeeded, failed, canceled,
       ttft_ms_sum, ttft_count, duration_ms_sum
FROM usage_daily WHERE user_id = %s ORDER BY 1, 2
"""


async def _owner(sessions: async_sessionmaker[AsyncSession]) -> tuple[uuid.UUID, uuid.UUID]:
    async with sessions() as session:
        user = User(
            email=f"agg-{uuid.uuid4().hex[:10]}@example.com", password_hash="x", display_name="a"
        )
        session.add(user)
        await session.flush()
        chat = Chat(user_id=user.id, title="aggregates")
        session.add(chat)
        await session.commit()
        return user.id, chat.id


async def _earlier_generations(
    sessions: async_sessionmaker[AsyncSession], user_id: uuid.UUID, chat_id: uuid.UUID, n: int
) -> None:
    """Finished generations on the past three days, each with its usage_event in the outbox."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    async with sessions() as session:
        for _ in range(n):
            started = now - timedelta(days=rng.randint(1, 3), seconds=rng.randint(0, 80_000))
            finished = started + timedelta(milliseconds=rng.randint(50, 20_000))
            status = rng.choice(FINAL)
            ttft = None if status == GenerationStatus.CANCELED else rng.randint(5, 900) / 4
            generation = Generation(
                chat_id=chat_id,
                user_id=user_id,
                model=rng.choice(MODELS),
                status=status,
                prompt_tokens=rng.randint(0, 4000),
                completion_tokens=rng.randint(0, 512),
                ttft_ms=ttft,
                created_at=started,
                started_at=started,
                finished_at=finished,
            )
            session.add(generation)
            await session.flush()
            add_event(
                session,
                UsageEvent(
                    occurred_at=finished,
                    user_id=user_id,
                    chat_id=chat_id,
                    generation_id=generation.id,
                    model=generation.model,
                    status=status,
                    prompt_tokens=generation.prompt_tokens or 0,
                    completion_tokens=generation.completion_tokens or 0,
                    ttft_ms=ttft,
                    duration_ms=(finished - started).total_seconds() * 1000,
                ),
            )
        await session.commit()


async def _finished_today(
    sessions: async_sessionmaker[AsyncSession], user_id: uuid.UUID, chat_id: uuid.UUID, n: int
) -> None:
    """Generations ended through `finish()`, the runner's terminal transition."""
    rng = random.Random(7)
    async with sessions() as session:
        for _ in range(n):
            # One at a time: a chat has one answer running at most.
            generation = Generation(
                chat_id=chat_id,
                user_id=user_id,
                model=rng.choice(MODELS),
                status=GenerationStatus.STREAMING,
                started_at=datetime.now(UTC),
            )
            session.add(generation)
            await session.flush()
            status = rng.choice(FINAL)
            finished = await finish(
                session,
                generation.id,
                status,
                runner_id=None,
                text="",
                prompt_tokens=rng.randint(0, 4000),
                completion_tokens=rng.randint(0, 512),
                ttft_ms=None if status == GenerationStatus.CANCELED else rng.randint(5, 900) / 4,
            )
            assert finished is not None
        await session.commit()


def _close(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Counts are exact; the float sums differ only by the order of additions."""
    assert [row[:8] + row[9:10] for row in actual] == [row[:8] + row[9:10] for row in expected]
    for got, want in zip(actual, expected, strict=True):
        assert float(got[8]) == pytest.approx(float(want[8]), rel=1e-9)
        assert float(got[10]) == pytest.approx(float(want[10]), rel=1e-9, abs=1e-3)


async def test_a_thousand_generations_aggregate_exactly(
    worker: Worker,  # noqa: ARG001 - applies the events
    relay: OutboxRelay,  # noqa: ARG001 - publishes them
    sessions: async_sessionmaker[AsyncSession],
    db_events: psycopg.AsyncConnection,
) -> None:
    user_id, chat_id = await _owner(sessions)
    await _earlier_generations(sessions, user_id, chat_id, GENERATIONS - THROUGH_FINISH)
    await _finished_today(sessions, user_id, chat_id, THROUGH_FINISH)

    async def all_applied() -> bool:
        return await requests_of(db_events, user_id) == GENERATIONS

    await eventually(all_applied, f"{GENERATIONS} usage events to be applied")
    await eventually(lambda: queue_drained(EVENTS_QUEUE), "the queue to drain")

    expected = await (await db_events.execute(EXPECTED_SQL, (user_id,))).fetchall()
    actual = await (await db_events.execute(ACTUAL_SQL, (user_id,))).fetchall()
    assert len(actual) > len(MODELS)  # several days, several models
    _close(actual, expected)

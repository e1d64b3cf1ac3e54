"""The events that close a stream: `error` (when there was one), `usage`, `done`, in that
order, from every path that ends a stream, the runner's own end and those that end it from
the database (a deleted chat, a runner that died after its commit, a stream that expired or
became unreadable while a client followed it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.db.models import Generation
from minichat.statuses import GenerationStatus
from minichat_api.generation import endings, store
from minichat_api.generation.store import StoredEndings
from minichat_api.streams import StreamEvent
from minichat_api.streams.closing import Ending
from minichat_api.streams.feed import Whereabouts, open_feed
from minichat_api.streams.memory_streams import MemoryGenerationStreams
from minichat_api.usecases import chats
from minichat_api.usecases.audit import RequestContext
from tests.unit.generation.conftest import RUNNER, Rows

Events = list[tuple[str, dict[str, Any]]]
RETENTION = 60.0
LOST = ("inference_disconnected", "the connection was lost mid-answer")


def closing(
    status: str, prompt_tokens: int, completion_tokens: int, error: tuple[str, str] | None = None
) -> Events:
    """The closing events as a client must receive them."""
    first: Events = [] if error is None else [("error", {"code": error[0], "message": error[1]})]
    return [
        *first,
        ("usage", {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}),
        ("done", {"status": status}),
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def streams(clock: Clock) -> MemoryGenerationStreams:
    return MemoryGenerationStreams(retention_seconds=RETENTION, max_events=10_000, clock=clock)


def parse(body: bytes) -> Events:
    """The SSE frames of `body` as (event, data); comments (pings) left out."""
    parsed: Events = []
    for block in body.decode().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if "event" in fields:
            parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


async def read_feed(
    feed: AsyncIterator[bytes] | None, *, then: Callable[[], None] | None = None
) -> Events:
    """Everything the feed sends until it ends; `then` is called once it has sent events."""
    assert feed is not None
    body = b""
    async for chunk in feed:
        body += chunk
        if then is not None and b"event: " in chunk:
            then()
            then = None
    return parse(body)


async def written(streams: MemoryGenerationStreams, generation_id: uuid.UUID) -> Events:
    return [(e.event, e.data) for e in await streams.read(generation_id, None, block_ms=0)]


async def finish(
    sessions: async_sessionmaker[AsyncSession],
    generation: Generation,
    status: GenerationStatus,
    *,
    text: str,
    error: tuple[str, str] | None = None,
) -> None:
    """The runner's commit of the end, with no stream write after it (it died there)."""
    async with sessions() as session:
        finished = await store.finish(
            session,
            generation.id,
            status,
            runner_id=RUNNER,
            text=text,
            prompt_tokens=5,
            completion_tokens=2,
            ttft_ms=10.0,
            error_code=error[0] if error else None,
            error_message=error[1] if error else None,
        )
        assert finished is not None
        await session.commit()


async def deltas(streams: MemoryGenerationStreams, generation_id: uuid.UUID) -> None:
    for index, text in enumerate(["Hel", "lo"]):
        await streams.append(generation_id, [("delta", {"text": text, "index": index})])


def test_an_ending_is_error_then_usage_then_done() -> None:
    failed = Ending(GenerationStatus.FAILED, LOST, prompt_tokens=5, completion_tokens=2)
    assert failed.events() == closing("failed", 5, 2, LOST)
    succeeded = Ending(GenerationStatus.SUCCEEDED, prompt_tokens=5, completion_tokens=2)
    assert succeeded.events() == closing("succeeded", 5, 2)


async def test_the_runners_end_commits_then_closes_the_stream_once(
    sessions: async_sessionmaker[AsyncSession], rows: Rows, streams: MemoryGenerationStreams
) -> None:
    generation = await rows.generation()
    end: dict[str, Any] = {
        "runner_id": RUNNER,
        "text": "Partial",
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "ttft_ms": 10.0,
        "error": LOST,
    }
    assert await endings.record_end(
        sessions, streams, generation.id, GenerationStatus.FAILED, **end
    )
    assert (await rows.load(generation.id)).status == GenerationStatus.FAILED
    assert await written(streams, generation.id) == closing("failed", 5, 2, LOST)
    # Another process decided the end first: this one tells the stream nothing.
    assert not await endings.record_end(
        sessions, streams, generation.id, GenerationStatus.SUCCEEDED, **{**end, "error": None}
    )
    assert await written(streams, generation.id) == closing("failed", 5, 2, LOST)


async def test_a_deleted_chats_answer_closes_with_its_checkpointed_usage(
    sessions: async_sessionmaker[AsyncSession], rows: Rows, streams: MemoryGenerationStreams
) -> None:
    """Its runner did not end it in time: the deletion ends it, counting its last checkpoint."""
    generation = await rows.generation(partial_text="Hel", completion_tokens=7)
    await rows.set(generation.id, prompt_tokens=5)
    await deltas(streams, generation.id)
    context = RequestContext(client="test")
    async with sessions() as session:
        await chats.lock_chat(session, generation.user_id, generation.chat_id)
        ended = await endings.cancel_for_deletion(session, generation.chat_id, context)
        await chats.delete_chat(session, generation.user_id, generation.chat_id, context)
    await endings.end_deleted(streams, ended)

    assert (await written(streams, generation.id))[2:] == closing("canceled", 5, 7)
    assert await streams.next_cancel() == generation.id  # its model is told to stop
    (usage,) = await rows.usage_events(generation.id)
    assert (usage["status"], usage["prompt_tokens"], usage["completion_tokens"]) == (
        "canceled",
        5,
        7,
    )


@pytest.mark.parametrize("error", [LOST, None])
async def test_a_runner_that_died_after_its_commit_has_its_stream_closed_from_the_database(
    sessions: async_sessionmaker[AsyncSession],
    rows: Rows,
    streams: MemoryGenerationStreams,
    error: tuple[str, str] | None,
) -> None:
    generation = await rows.generation()
    await deltas(streams, generation.id)
    status = GenerationStatus.FAILED if error else GenerationStatus.SUCCEEDED
    await finish(sessions, generation, status, text="Hello", error=error)
    expected = closing(status.value, 5, 2, error)

    feed = await open_feed(
        generation.id,
        None,
        whereabouts=Whereabouts.ENDED,
        streams=streams,
        endings=StoredEndings(sessions),
        ping_seconds=0.05,
    )
    received = await read_feed(feed)
    assert received[2:] == expected
    # Written into the stream itself, for every follower, once.
    assert (await written(streams, generation.id))[2:] == expected


async def test_a_follower_of_an_answer_whose_runner_died_gets_its_end(
    sessions: async_sessionmaker[AsyncSession], rows: Rows, streams: MemoryGenerationStreams
) -> None:
    """Followed while running elsewhere: the runner commits, dies, and the feed, on a quiet
    spell, closes the stream from the database."""
    generation = await rows.generation()
    await deltas(streams, generation.id)
    feed = await open_feed(
        generation.id,
        None,
        whereabouts=Whereabouts.RUNNING_ELSEWHERE,
        streams=streams,
        endings=StoredEndings(sessions),
        ping_seconds=0.05,
    )
    assert feed is not None
    assert await anext(feed) == b": ping\n\n"
    await finish(sessions, generation, GenerationStatus.FAILED, text="Hello", error=LOST)
    received = await read_feed(feed)
    assert received[2:] == closing("failed", 5, 2, LOST)


@pytest.mark.parametrize("error", [LOST, None])
async def test_a_stream_that_expires_while_followed_ends_with_the_stored_end(
    sessions: async_sessionmaker[AsyncSession],
    rows: Rows,
    streams: MemoryGenerationStreams,
    clock: Clock,
    error: tuple[str, str] | None,
) -> None:
    generation = await rows.generation()
    await deltas(streams, generation.id)
    status = GenerationStatus.FAILED if error else GenerationStatus.SUCCEEDED
    await finish(sessions, generation, status, text="Hello", error=error)

    def expire() -> None:
        clock.now += RETENTION + 1

    feed = await open_feed(
        generation.id,
        None,
        whereabouts=Whereabouts.RUNNING_HERE,
        streams=streams,
        endings=StoredEndings(sessions),
        ping_seconds=0.05,
    )
    received = await read_feed(feed, then=expire)
    # The deltas the client had, then the end; the whole text is in the chat's messages.
    assert received == [
        ("delta", {"text": "Hel", "index": 0}),
        ("delta", {"text": "lo", "index": 1}),
        *closing(status.value, 5, 2, error),
    ]


class UnreadableStreams(MemoryGenerationStreams):
    """Memory streams whose direct reads fail, as a Redis gone between two events would."""

    async def read(
        self, generation_id: uuid.UUID, after: str | None, *, block_ms: int, count: int = 500
    ) -> list[StreamEvent]:
        if block_ms == 0:
            raise ConnectionError("the stream is unreadable")
        return await super().read(generation_id, after, block_ms=block_ms, count=count)


async def test_a_stream_unreadable_on_a_quiet_spell_ends_with_the_stored_end(
    sessions: async_sessionmaker[AsyncSession], rows: Rows
) -> None:
    streams = UnreadableStreams(retention_seconds=RETENTION, max_events=10_000)
    generation = await rows.generation()
    await finish(sessions, generation, GenerationStatus.FAILED, text="Hello", error=LOST)
    feed = await open_feed(
        generation.id,
        None,
        whereabouts=Whereabouts.RUNNING_HERE,
        streams=streams,
        endings=StoredEndings(sessions),
        ping_seconds=0.05,
    )
    assert await read_feed(feed) == closing("failed", 5, 2, LOST)


@pytest.mark.parametrize(
    ("after", "replayed"),
    [
        (None, [("delta", {"text": "Hello", "index": 0})]),  # the whole answer, then its end
        ("0-1", []),  # the replay's own delta already seen
        ("1700000000000-2", []),  # an id of the expired stream: which text it has is unknown
    ],
)
async def test_a_client_that_comes_after_the_stream_expired_gets_the_stored_end(
    sessions: async_sessionmaker[AsyncSession],
    rows: Rows,
    streams: MemoryGenerationStreams,
    after: str | None,
    replayed: Events,
) -> None:
    generation = await rows.generation()
    await finish(sessions, generation, GenerationStatus.FAILED, text="Hello", error=LOST)
    feed = await open_feed(
        generation.id,
        after,
        whereabouts=Whereabouts.ENDED,
        streams=streams,
        endings=StoredEndings(sessions),
    )
    assert await read_feed(feed) == [*replayed, *closing("failed", 5, 2, LOST)]


async def test_a_client_that_has_the_whole_ended_stream_gets_no_feed(
    sessions: async_sessionmaker[AsyncSession], rows: Rows, streams: MemoryGenerationStreams
) -> None:
    generation = await rows.generation()
    ids = await streams.append(
        generation.id, Ending(GenerationStatus.CANCELED, None, 5, 2).events()
    )
    await finish(sessions, generation, GenerationStatus.CANCELED, text="")
    feed = await open_feed(
        generation.id,
        ids[-1],
        whereabouts=Whereabouts.ENDED,
        streams=streams,
        endings=StoredEndings(sessions),
    )
    assert feed is None
    assert await written(streams, generation.id) == closing("canceled", 5, 2)

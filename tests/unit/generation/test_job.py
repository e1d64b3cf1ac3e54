"""A generation job's outcomes, with a scripted model, the in-memory streams and SQLite:
what ends up in the database and how the stream closes, for each way an answer can end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.db.models import Generation
from minichat.statuses import GenerationStatus, MessageRole, MessageStatus
from minichat_api.generation import job as job_module
from minichat_api.generation.checkpoints import Checkpointed, Checkpointer
from minichat_api.generation.job import GenerationJob, JobConfig
from minichat_api.generation.progress import Progress
from minichat_api.generation.prompt import estimated_tokens
from minichat_api.generation.upstream import ChatTurn, Chunk, UpstreamError, Usage
from minichat_api.streams import StreamEvent
from minichat_api.streams.memory_streams import MemoryGenerationStreams
from tests.eventually import eventually
from tests.unit.generation.conftest import RUNNER, Rows

MAX_TOKENS = 100
PROMPT = [ChatTurn("user", "Hello there")]
# What a canceled or failed answer counts for a prompt the model took in but did not count.
PROMPT_ESTIMATE = estimated_tokens(PROMPT)
# A step of a scripted answer: a piece of text, the usage, a chunk as it is, an error to raise,
# or a wait (the model still computing) until the test sets the event.
Step = str | Usage | Chunk | Exception | asyncio.Event


@dataclass(frozen=True)
class Request:
    messages: list[ChatTurn]
    max_tokens: int
    continue_final_message: bool


@dataclass
class ScriptedUpstream:
    """Answers each request with the next of its scripts."""

    scripts: list[list[Step]]
    requests: list[Request] = field(default_factory=list)
    # Requests whose answer is still being produced: a stopped job must close its request.
    open: int = 0

    async def stream_chat(
        self,
        messages: Sequence[ChatTurn],
        *,
        model: str,
        max_tokens: int,
        continue_final_message: bool = False,
        headers: Mapping[str, str] | None = None,  # noqa: ARG002 (trace context, unread here)
    ) -> AsyncIterator[Chunk]:
        assert model == "test-model"
        self.requests.append(Request(list(messages), max_tokens, continue_final_message))
        self.open += 1
        try:
            for step in self.scripts.pop(0):
                if isinstance(step, asyncio.Event):
                    await step.wait()
                elif isinstance(step, Exception):
                    raise step
                elif isinstance(step, Usage):
                    yield Chunk(usage=step)
                elif isinstance(step, Chunk):
                    yield step
                else:
                    yield Chunk(text=step)
        finally:
            self.open -= 1


class BrokenDeltaStreams(MemoryGenerationStreams):
    """Memory streams that refuse every delta, as a Redis gone mid-answer would; the closing
    events, written after the database commit, go through."""

    async def append(
        self,
        generation_id: uuid.UUID,
        events: Sequence[tuple[str, dict[str, Any]]],
        *,
        tokens: int | None = None,
    ) -> list[str]:
        if any(name == "delta" for name, _ in events):
            raise ConnectionError("the stream is unreachable")
        return await super().append(generation_id, events, tokens=tokens)


@dataclass
class Jobs:
    rows: Rows
    sessions: async_sessionmaker[AsyncSession]
    streams: MemoryGenerationStreams = field(
        default_factory=lambda: MemoryGenerationStreams(retention_seconds=60, max_events=10_000)
    )

    def job(
        self,
        generation: Generation,
        upstream: ScriptedUpstream,
        *,
        resume: Progress | None = None,
        checkpoints: Checkpointer | None = None,
    ) -> GenerationJob:
        checkpoints = checkpoints or Checkpointer(
            self.sessions, running={}, runner_id=RUNNER, every_tokens=1000, interval_s=60
        )
        return GenerationJob(
            generation_id=generation.id,
            user_id=generation.user_id,
            prompt=PROMPT,
            sessions=self.sessions,
            streams=self.streams,
            upstream=upstream,
            checkpoints=checkpoints,
            config=JobConfig(runner_id=RUNNER, model="test-model", max_tokens=MAX_TOKENS),
            resume=resume or Progress(),
        )

    async def events(self, generation_id: uuid.UUID) -> list[StreamEvent]:
        return await self.streams.read(generation_id, None, block_ms=0)

    async def text(self, generation_id: uuid.UUID) -> str:
        return "".join(
            e.data["text"] for e in await self.events(generation_id) if e.event == "delta"
        )

    async def closing(self, generation_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        return [(e.event, e.data) for e in await self.events(generation_id) if e.event != "delta"]

    async def answer(self, generation: Generation) -> tuple[str, MessageStatus] | None:
        """The assistant message the end wrote, if any."""
        messages = await self.rows.messages(generation.chat_id)
        answers = [m for m in messages if m.role == MessageRole.ASSISTANT]
        if not answers:
            return None
        (answer,) = answers
        assert answer.id == (await self.rows.load(generation.id)).assistant_message_id
        return answer.content, MessageStatus(answer.status)


@pytest.fixture
def jobs(rows: Rows, sessions: async_sessionmaker[AsyncSession]) -> Jobs:
    return Jobs(rows, sessions)


async def _streamed(jobs: Jobs, generation_id: uuid.UUID, text: str) -> None:
    async def arrived() -> bool:
        return await jobs.text(generation_id) == text

    await eventually(arrived, f"{text!r} in the stream", 5)


async def test_a_succeeded_answer_is_saved_with_its_usage_and_its_stream_closed(
    jobs: Jobs,
) -> None:
    generation = await jobs.rows.generation()
    upstream = ScriptedUpstream([["Hel", "lo", "!", Usage(prompt_tokens=5, completion_tokens=3)]])
    await jobs.job(generation, upstream).run()

    row = await jobs.rows.load(generation.id)
    assert row.status == GenerationStatus.SUCCEEDED
    assert (row.prompt_tokens, row.completion_tokens, row.error_code) == (5, 3, None)
    assert row.ttft_ms is not None and row.finished_at is not None
    assert await jobs.answer(generation) == ("Hello!", MessageStatus.COMPLETE)
    assert await jobs.text(generation.id) == "Hello!"
    assert await jobs.closing(generation.id) == [
        ("usage", {"prompt_tokens": 5, "completion_tokens": 3}),
        ("done", {"status": "succeeded"}),
    ]
    (usage,) = await jobs.rows.usage_events(generation.id)
    assert (usage["status"], usage["prompt_tokens"], usage["completion_tokens"]) == (
        "succeeded",
        5,
        3,
    )
    assert upstream.requests == [Request(PROMPT, MAX_TOKENS, False)]


async def test_an_upstream_error_fails_the_answer_with_its_code_and_keeps_the_text(
    jobs: Jobs,
) -> None:
    generation = await jobs.rows.generation()
    lost = UpstreamError("inference_disconnected", "the connection was lost mid-answer")
    await jobs.job(generation, ScriptedUpstream([["Part", "ial", lost]])).run()

    row = await jobs.rows.load(generation.id)
    assert row.status == GenerationStatus.FAILED
    assert (row.error_code, row.error_message) == (
        "inference_disconnected",
        "the connection was lost mid-answer",
    )
    # Counted here, the model having sent no usage: its tokens, an estimate of the prompt.
    assert (row.prompt_tokens, row.completion_tokens) == (PROMPT_ESTIMATE, 2)
    assert await jobs.answer(generation) == ("Partial", MessageStatus.INCOMPLETE)
    assert await jobs.closing(generation.id) == [
        (
            "error",
            {"code": "inference_disconnected", "message": "the connection was lost mid-answer"},
        ),
        ("usage", {"prompt_tokens": PROMPT_ESTIMATE, "completion_tokens": 2}),
        ("done", {"status": "failed"}),
    ]


async def test_an_unexpected_error_fails_the_answer_without_its_details(jobs: Jobs) -> None:
    generation = await jobs.rows.generation()
    await jobs.job(generation, ScriptedUpstream([["Some", RuntimeError("at 10.0.0.7")]])).run()
    row = await jobs.rows.load(generation.id)
    assert (row.status, row.error_code, row.error_message) == (
        GenerationStatus.FAILED,
        "internal_error",
        "the generation failed",
    )
    assert await jobs.answer(generation) == ("Some", MessageStatus.INCOMPLETE)


async def test_a_canceled_answer_keeps_its_text_and_its_request_is_closed(jobs: Jobs) -> None:
    generation = await jobs.rows.generation()
    never = asyncio.Event()
    upstream = ScriptedUpstream([["Hel", never, "lo", Usage(5, 2)]])
    job = jobs.job(generation, upstream)
    running = asyncio.create_task(job.run())
    await _streamed(jobs, generation.id, "Hel")
    job.canceled()
    await asyncio.wait_for(running, 5)

    row = await jobs.rows.load(generation.id)
    assert (row.status, row.error_code, row.completion_tokens) == (
        GenerationStatus.CANCELED,
        None,
        1,
    )
    assert await jobs.answer(generation) == ("Hel", MessageStatus.INCOMPLETE)
    assert await jobs.closing(generation.id) == [
        ("usage", {"prompt_tokens": PROMPT_ESTIMATE, "completion_tokens": 1}),
        ("done", {"status": "canceled"}),
    ]
    assert upstream.open == 0, "the model was left computing"
    (usage,) = await jobs.rows.usage_events(generation.id)
    assert usage["status"] == "canceled"


async def test_a_cancel_recorded_only_in_the_database_stops_the_answer_at_a_checkpoint(
    jobs: Jobs,
) -> None:
    """Its broadcast reached nobody (a restarted Redis): the checkpoint round finds it."""
    generation = await jobs.rows.generation()
    running: dict[uuid.UUID, Checkpointed] = {}
    checkpoints = Checkpointer(
        jobs.sessions, running=running, runner_id=RUNNER, every_tokens=1, interval_s=60
    )
    upstream = ScriptedUpstream([["Hel", asyncio.Event(), "lo", Usage(5, 2)]])
    job = running[generation.id] = jobs.job(generation, upstream, checkpoints=checkpoints)
    answering = asyncio.create_task(job.run())
    await _streamed(jobs, generation.id, "Hel")
    await checkpoints.round()  # one unsaved token is every_tokens: no wait
    assert (await jobs.rows.load(generation.id)).partial_text == "Hel"
    assert not answering.done()

    await jobs.rows.set(generation.id, cancel_requested_at=datetime.now(UTC))
    checkpoints.streamed(job, 1)
    await checkpoints.round()
    await asyncio.wait_for(answering, 5)
    assert (await jobs.rows.load(generation.id)).status == GenerationStatus.CANCELED
    assert await jobs.answer(generation) == ("Hel", MessageStatus.INCOMPLETE)
    assert upstream.open == 0


async def test_a_cancel_before_the_start_never_asks_the_model(jobs: Jobs) -> None:
    generation = await jobs.rows.generation()
    upstream = ScriptedUpstream([["never sent"]])
    job = jobs.job(generation, upstream)
    job.canceled()
    await job.run()
    assert upstream.requests == []
    assert (await jobs.rows.load(generation.id)).status == GenerationStatus.CANCELED
    assert await jobs.answer(generation) is None  # no text, no message
    assert await jobs.closing(generation.id) == [
        ("usage", {"prompt_tokens": 0, "completion_tokens": 0}),
        ("done", {"status": "canceled"}),
    ]


async def test_a_relinquished_answer_writes_nothing_more(jobs: Jobs) -> None:
    """Another process owns it now: the end, the message and the closing events are its."""
    generation = await jobs.rows.generation()
    never = asyncio.Event()
    upstream = ScriptedUpstream([["Hel", never, "lo", Usage(5, 2)]])
    job = jobs.job(generation, upstream)
    running = asyncio.create_task(job.run())
    await _streamed(jobs, generation.id, "Hel")
    job.lost()
    await asyncio.wait_for(running, 5)

    row = await jobs.rows.load(generation.id)
    assert (row.status, row.finished_at, row.partial_text) == (
        GenerationStatus.STREAMING,
        None,
        "",
    )
    assert await jobs.answer(generation) is None
    assert await jobs.closing(generation.id) == []
    assert await jobs.rows.usage_events(generation.id) == []
    assert upstream.open == 0


async def test_a_claim_that_fails_writes_nothing_at_all(jobs: Jobs) -> None:
    """A fresh answer starts before its claim settles; when the claim fails (the create did
    not commit), not even the first token reaches the stream."""
    generation = await jobs.rows.generation(status=GenerationStatus.QUEUED)
    claim: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    upstream = ScriptedUpstream([["Hel", "lo", Usage(5, 2)]])
    job = jobs.job(generation, upstream)

    async def settled() -> bool:
        return await claim

    job.claimed = asyncio.create_task(settled())
    running = asyncio.create_task(job.run())
    await eventually(lambda: upstream.requests, "the model asked before the claim settled", 5)
    claim.set_result(False)
    await asyncio.wait_for(running, 5)
    assert await jobs.events(generation.id) == []
    assert (await jobs.rows.load(generation.id)).status == GenerationStatus.QUEUED


async def test_a_busy_model_is_asked_again(jobs: Jobs) -> None:
    generation = await jobs.rows.generation()
    busy = UpstreamError("inference_busy", "busy", retry_after_seconds=0.01)
    upstream = ScriptedUpstream([[busy], [busy], ["Hi", Usage(3, 1)]])
    await jobs.job(generation, upstream).run()
    assert (await jobs.rows.load(generation.id)).status == GenerationStatus.SUCCEEDED
    assert await jobs.answer(generation) == ("Hi", MessageStatus.COMPLETE)
    assert upstream.requests == [Request(PROMPT, MAX_TOKENS, False)] * 3


async def test_a_model_busy_beyond_the_patience_fails_the_answer(
    jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_module, "BUSY_PATIENCE_SECONDS", 0.1)
    generation = await jobs.rows.generation()
    busy = UpstreamError("inference_busy", "the model server is busy", retry_after_seconds=0.04)
    upstream = ScriptedUpstream([[busy] for _ in range(10)])
    await jobs.job(generation, upstream).run()
    row = await jobs.rows.load(generation.id)
    assert (row.status, row.error_code) == (GenerationStatus.FAILED, "inference_busy")
    assert 2 <= len(upstream.requests) < 10
    assert await jobs.closing(generation.id) == [
        ("error", {"code": "inference_busy", "message": "the model server is busy"}),
        ("usage", {"prompt_tokens": 0, "completion_tokens": 0}),
        ("done", {"status": "failed"}),
    ]


async def test_a_stream_that_breaks_fails_the_answer_and_keeps_its_text(
    rows: Rows, sessions: async_sessionmaker[AsyncSession]
) -> None:
    jobs = Jobs(rows, sessions, BrokenDeltaStreams(retention_seconds=60, max_events=10_000))
    generation = await rows.generation()
    await jobs.job(generation, ScriptedUpstream([["Hel", "lo", Usage(5, 2)]])).run()
    row = await rows.load(generation.id)
    assert (row.status, row.error_code) == (GenerationStatus.FAILED, "stream_unavailable")
    assert await jobs.answer(generation) == ("Hello", MessageStatus.INCOMPLETE)
    assert [name for name, _ in await jobs.closing(generation.id)] == ["error", "usage", "done"]


async def test_an_adopted_answer_is_continued_from_where_it_stood(jobs: Jobs) -> None:
    generation = await jobs.rows.generation()
    resume = Progress(text="Once upon", next_index=4, completion_tokens=4, ttft_ms=30.0)
    upstream = ScriptedUpstream([[" a", " time", Usage(10, 2)]])
    await jobs.job(generation, upstream, resume=resume).run()

    assert upstream.requests == [
        Request([*PROMPT, ChatTurn("assistant", "Once upon")], MAX_TOKENS - 4, True)
    ]
    deltas = [e for e in await jobs.events(generation.id) if e.event == "delta"]
    assert deltas[0].data["index"] == 4
    assert deltas[-1].tokens == 6
    row = await jobs.rows.load(generation.id)
    # Its usage counts the whole answer, not the continuation the model saw.
    assert (row.prompt_tokens, row.completion_tokens, row.ttft_ms) == (10, 6, 30.0)
    assert await jobs.answer(generation) == ("Once upon a time", MessageStatus.COMPLETE)


async def test_an_answer_the_token_limit_cut_says_so_in_its_done(jobs: Jobs) -> None:
    generation = await jobs.rows.generation()
    cut = Chunk(usage=Usage(5, 2), finish_reason="length")
    await jobs.job(generation, ScriptedUpstream([["Hel", "lo", cut]])).run()
    assert (await jobs.rows.load(generation.id)).finish_reason == "length"
    assert await jobs.closing(generation.id) == [
        ("usage", {"prompt_tokens": 5, "completion_tokens": 2}),
        ("done", {"status": "succeeded", "finish_reason": "length"}),
    ]


async def test_an_answer_continued_without_its_stream_sends_the_text_it_continues(
    jobs: Jobs,
) -> None:
    """Adopted after its stream expired (next index 0): the stream's first delta carries the
    checkpointed text, so a client reading it from the start has the whole answer."""
    generation = await jobs.rows.generation()
    resume = Progress(text="Once upon", completion_tokens=4)
    upstream = ScriptedUpstream([[" a", " time", Usage(10, 2)]])
    await jobs.job(generation, upstream, resume=resume).run()
    assert await jobs.text(generation.id) == "Once upon a time"
    assert (await jobs.events(generation.id))[0].data["index"] == 0
    assert await jobs.answer(generation) == ("Once upon a time", MessageStatus.COMPLETE)

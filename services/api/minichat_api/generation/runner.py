"""The generation runner: runs queued generations as asyncio tasks, bounded per process,
listens for cancels from any process, and adopts generations whose process died."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat import logs, tracing
from minichat.db.models import Generation
from minichat.statuses import GenerationStatus
from minichat_api import metrics
from minichat_api.background import cancel_and_wait, resolve
from minichat_api.generation import spans, store
from minichat_api.generation.checkpoints import Checkpointer
from minichat_api.generation.endings import record_end
from minichat_api.generation.job import GenerationJob, JobConfig, StopReason
from minichat_api.generation.progress import Progress
from minichat_api.generation.prompt import build_prompt
from minichat_api.generation.upstream import ChatTurn, Upstream
from minichat_api.settings import ApiSettings
from minichat_api.streams import GenerationStreams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FreshStart:
    """What a generation's creator knows, so the model can start before the generation is
    even written. `saved` resolves once the creating transaction has ended: to the status it
    committed (`streaming` if it also claimed the generation for this runner), or to None."""

    user_id: uuid.UUID
    prompt: list[ChatTurn]
    model: str
    saved: asyncio.Future[GenerationStatus | None]
    # Resolved by the job as it sends the model its request.
    asked: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # The answer it continues (Continue on an answer the token limit cut), if any.
    resume: Progress = field(default_factory=Progress)
    # The runner's span for it (`spans.start_run`), already stored with the generation.
    span: Span = INVALID_SPAN


def new_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class GenerationRunner:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        streams: GenerationStreams,
        upstream: Upstream,
        settings: ApiSettings,
        runner_id: str | None = None,
    ) -> None:
        self.runner_id = runner_id or new_runner_id()
        self._sessions = sessions
        self._streams = streams
        self._upstream = upstream
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.generation_concurrency)
        self._jobs: dict[uuid.UUID, GenerationJob] = {}
        self._checkpoints = Checkpointer(
            sessions,
            running=self._jobs,
            runner_id=self.runner_id,
            every_tokens=settings.checkpoint_every_tokens,
            interval_s=settings.checkpoint_interval_ms / 1000,
        )
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        # Nothing here waits for Redis: the api starts (and reports not ready) while it is down.
        self._background = [
            asyncio.create_task(self._forever(self._heartbeat, "heartbeat")),
            asyncio.create_task(self._forever(self._watch_cancels, "cancel watcher")),
            asyncio.create_task(self._forever(self._adopt_orphans, "reaper")),
            asyncio.create_task(self._forever(self._checkpoints.round, "checkpointer")),
        ]

    async def stop(self) -> None:
        """Stop without finishing anything: running generations are left for adoption."""
        for job in self._jobs.values():
            job.stop(StopReason.RELINQUISHED)
        await cancel_and_wait([*self._background, *self._tasks.values()])
        with contextlib.suppress(Exception):
            # Expire our heartbeat at once, so peers adopt our generations without waiting.
            await asyncio.wait_for(self._streams.heartbeat(self.runner_id, 1), timeout=1)

    def submit(
        self,
        generation_id: uuid.UUID,
        *,
        adopted: bool = False,
        fresh: FreshStart | None = None,
        span: Span = INVALID_SPAN,
    ) -> asyncio.Task[None] | None:
        """Run a generation. `fresh`: what its creator already knows, so the model can start
        before the database has recorded that it did. `span`: this run's, which it ends."""
        span = fresh.span if fresh is not None else span
        if generation_id in self._tasks:
            span.end()
            return None
        task = asyncio.create_task(self._run(generation_id, adopted, fresh, span))
        self._tasks[generation_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(generation_id, None))
        return task

    async def start_fresh(self, generation_id: uuid.UUID, fresh: FreshStart) -> None:
        """Run a new generation; return once the model has been asked (or the generation waits
        for a free slot), so that its creator's database write overlaps the first token."""
        task = self.submit(generation_id, fresh=fresh)
        if task is not None:
            await asyncio.wait({fresh.asked, task}, return_when=asyncio.FIRST_COMPLETED)

    def running_here_for(self, generation_id: uuid.UUID) -> uuid.UUID | None:
        """The user whose generation this process is streaming now; None if it is not."""
        job = self._jobs.get(generation_id)
        return None if job is None else job.user_id

    def cancel_local(
        self, generation_id: uuid.UUID, reason: StopReason = StopReason.CANCELED
    ) -> bool:
        job = self._jobs.get(generation_id)
        if job is None:
            return False
        job.stop(reason)
        return True

    async def _run(
        self, generation_id: uuid.UUID, adopted: bool, fresh: FreshStart | None, span: Span
    ) -> None:
        logs.generation_id.set(str(generation_id))  # this task's log lines name it
        try:
            with trace.use_span(
                span, end_on_exit=True, record_exception=False, set_status_on_exception=False
            ):
                if fresh is not None and self._slots.locked():
                    resolve(fresh.asked)  # it waits in `queued`: its creator need not
                await self._run_in_slot(generation_id, adopted, fresh, span)
        finally:
            if fresh is not None:
                resolve(fresh.asked)

    async def _acquire_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            metrics.RUNNER_QUEUE_WAIT.observe(0)
            return
        waiting_since = time.monotonic()
        metrics.RUNNER_QUEUE_DEPTH.inc()
        try:
            with spans.TRACER.start_as_current_span("generation.queue_wait"):
                await self._slots.acquire()
        finally:
            metrics.RUNNER_QUEUE_DEPTH.dec()
        metrics.RUNNER_QUEUE_WAIT.observe(time.monotonic() - waiting_since, tracing.exemplar())

    async def _run_in_slot(
        self, generation_id: uuid.UUID, adopted: bool, fresh: FreshStart | None, span: Span
    ) -> None:
        await self._acquire_slot()
        try:
            try:
                if fresh is not None and not adopted:
                    job: GenerationJob | None = self._job(
                        generation_id, fresh.user_id, fresh.prompt, fresh.model, fresh.resume, span
                    )
                    assert job is not None
                    job.claimed = asyncio.create_task(self._claim(generation_id, fresh.saved))
                    job.asked = fresh.asked
                else:
                    job = await self._prepare(generation_id, adopted, span)
                if job is None:
                    spans.ended(span, "skipped")
                    return
                self._jobs[generation_id] = job
                metrics.GENERATIONS_RUNNING.inc()
                try:
                    await job.run()
                finally:
                    metrics.GENERATIONS_RUNNING.dec()
                    self._jobs.pop(generation_id, None)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("generation %s: runner error", generation_id)
        finally:
            self._slots.release()

    async def _prepare(
        self, generation_id: uuid.UUID, adopted: bool, span: Span
    ) -> GenerationJob | None:
        """Claim the generation for streaming and gather what the job needs; None to skip it."""
        async with self._sessions() as session:
            # The common case first: a queued generation of ours starts streaming.
            generation = await store.start_streaming(session, generation_id, self.runner_id)
            await session.commit()
            if generation is None:
                # Adopted mid-stream, or no longer ours to run.
                generation = await store.load(session, generation_id)
                if (
                    generation is None
                    or generation.runner_id != self.runner_id
                    or generation.status != GenerationStatus.STREAMING
                ):
                    return None
            prompt = await build_prompt(
                session, generation, self._settings.generation_context_chars
            )
        # A continuation starts from the answer it continues, its first checkpoint.
        started = adopted or generation.partial_text
        resume = await self._resume_point(generation) if started else Progress()
        job = self._job(generation_id, generation.user_id, prompt, generation.model, resume, span)
        if generation.cancel_requested_at is not None:
            job.stop(StopReason.CANCELED)
        return job

    def _job(
        self,
        generation_id: uuid.UUID,
        user_id: uuid.UUID,
        prompt: list[ChatTurn],
        model: str,
        resume: Progress,
        span: Span,
    ) -> GenerationJob:
        return GenerationJob(
            generation_id=generation_id,
            user_id=user_id,
            prompt=prompt,
            sessions=self._sessions,
            streams=self._streams,
            upstream=self._upstream,
            checkpoints=self._checkpoints,
            config=JobConfig(
                runner_id=self.runner_id,
                model=model,
                max_tokens=self._settings.generation_max_tokens,
            ),
            resume=resume,
            span=span,
        )

    async def _claim(
        self, generation_id: uuid.UUID, saved: asyncio.Future[GenerationStatus | None]
    ) -> bool:
        """queued -> streaming for a generation of ours, once its creation has committed (which
        did it already if this job held a slot by then); False if it never was, or is not ours
        to run: the job then stops and writes nothing."""
        saved_as = await saved
        if saved_as is None:
            self.cancel_local(generation_id, StopReason.RELINQUISHED)
            return False
        if saved_as == GenerationStatus.STREAMING:
            # Claimed by the creating transaction itself. No cancel can predate it: nobody
            # knew the generation before that commit, and this job was listening by then.
            return True
        async with self._sessions() as session:
            claimed = await store.start_streaming(session, generation_id, self.runner_id)
            await session.commit()
        if claimed is None:
            # Cancelled while queued, say: the model must not go on computing for nobody.
            self.cancel_local(generation_id, StopReason.RELINQUISHED)
        elif claimed.cancel_requested_at is not None:
            # A cancel raised before this job was listening would otherwise be missed.
            self.cancel_local(generation_id)
        return claimed is not None

    async def _resume_point(self, generation: Generation) -> Progress:
        """What the client has already seen: the stream itself, or the checkpoint if it is gone."""
        if not await self._streams.exists(generation.id):
            return Progress(
                text=generation.partial_text,
                completion_tokens=generation.completion_tokens or 0,
                ttft_ms=generation.ttft_ms,
            )
        texts: list[str] = []
        next_index = 0
        # A checkpoint lags the stream: the stream's own count goes with the stream's text.
        tokens = generation.completion_tokens
        after: str | None = None
        while events := await self._streams.read(generation.id, after, block_ms=0, count=1000):
            for event in events:
                if event.event == "delta":
                    texts.append(str(event.data["text"]))
                    next_index = int(event.data["index"]) + 1
                    if event.tokens is not None:  # absent from entries of older versions
                        tokens = event.tokens
            after = events[-1].id
        return Progress(
            text="".join(texts),
            next_index=next_index,
            completion_tokens=tokens or len(texts),
            ttft_ms=generation.ttft_ms,
        )

    async def _forever(self, step: Callable[[], Awaitable[None]], name: str) -> None:
        while not _cancelling():
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("%s: %r; retrying", name, exc)
                await asyncio.sleep(1)

    async def _heartbeat(self) -> None:
        ttl = self._settings.runner_heartbeat_ttl_ms
        await self._streams.heartbeat(self.runner_id, ttl)
        await asyncio.sleep(ttl / 3000)

    async def _watch_cancels(self) -> None:
        self.cancel_local(await self._streams.next_cancel())

    async def _adopt_orphans(self) -> None:
        await asyncio.sleep(self._settings.reaper_interval_ms / 1000)
        # Ours but not running here: the create committed, yet its request failed before or
        # while hearing so (a lost reply, a cancelled request), so no job was left to run it.
        grace = timedelta(milliseconds=self._settings.runner_heartbeat_ttl_ms)
        async with self._sessions() as session:
            candidates = await store.active_generations(session, excluding_runner=self.runner_id)
            stranded = await store.stranded_generations(
                session, runner_id=self.runner_id, quiet_since=datetime.now(UTC) - grace
            )
        for generation_id, status in stranded:
            if generation_id not in self._tasks:
                logger.info(
                    "generation %s: %s here with no job; running it", generation_id, status.value
                )
                # Counted as an adoption: a generation whose end cannot be written would
                # otherwise be stranded, and its model run again, round after round.
                await self._adopt(generation_id, self.runner_id)
        owners = sorted({owner for _, owner in candidates if owner})
        alive = await self._streams.alive(owners)
        for generation_id, owner in candidates:
            if owner is None or not alive.get(owner, False):
                await self._adopt(generation_id, owner)

    async def _adopt(self, generation_id: uuid.UUID, previous_owner: str | None) -> None:
        span: Span = INVALID_SPAN
        async with self._sessions() as session:
            adopted = await store.adopt(
                session, generation_id, previous_owner=previous_owner, runner_id=self.runner_id
            )
            if adopted is not None and tracing.enabled():
                span = spans.start_run(
                    generation_id,
                    self.runner_id,
                    adopted_from=adopted.traceparent,
                    previous_owner=previous_owner,
                    adoptions=adopted.adoptions,
                )
                await store.set_traceparent(session, generation_id, tracing.traceparent(span))
            await session.commit()
        if adopted is None:
            return  # a peer adopted it first
        metrics.GENERATIONS_ADOPTED.inc()
        logger.info(
            "generation %s: adopted from %s (adoption %d)",
            generation_id,
            previous_owner,
            adopted.adoptions,
        )
        if adopted.adoptions > self._settings.max_adoptions:
            with trace.use_span(span, end_on_exit=True):
                await self._give_up(adopted)
        else:
            self.submit(generation_id, adopted=True, span=span)

    async def _give_up(self, generation: Generation) -> None:
        resume = await self._resume_point(generation)
        message = f"gave up after {generation.adoptions - 1} restarts of its process"
        spans.ended(
            trace.get_current_span(),
            GenerationStatus.FAILED,
            completion_tokens=resume.completion_tokens,
            error=("too_many_adoptions", message),
        )
        await record_end(
            self._sessions,
            self._streams,
            generation.id,
            GenerationStatus.FAILED,
            runner_id=self.runner_id,
            text=resume.text,
            prompt_tokens=generation.prompt_tokens or 0,
            completion_tokens=resume.completion_tokens,
            ttft_ms=generation.ttft_ms,
            error=("too_many_adoptions", message),
        )


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

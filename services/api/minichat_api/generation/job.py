"""One generation being produced by this process: stream, checkpoint, finish, or stop."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat import tracing
from minichat.statuses import FinishReason, GenerationStatus
from minichat_api import metrics
from minichat_api.background import resolve
from minichat_api.generation import spans
from minichat_api.generation.checkpoints import Checkpointer
from minichat_api.generation.delta_writer import DeltaWriter
from minichat_api.generation.endings import record_end
from minichat_api.generation.progress import Progress
from minichat_api.generation.prompt import estimated_tokens
from minichat_api.generation.upstream import ChatTurn, Upstream, UpstreamError, Usage
from minichat_api.streams import GenerationStreams

logger = logging.getLogger(__name__)

# How long a generation waits, in all, for a busy model server before it fails.
BUSY_PATIENCE_SECONDS = 60.0


class StopReason(Enum):
    CANCELED = "canceled"
    # Another process owns the generation now (we were presumed dead), or we are shutting down
    # and leave it to be adopted: either way, this process writes nothing more.
    RELINQUISHED = "relinquished"


@dataclass
class JobConfig:
    runner_id: str
    model: str
    max_tokens: int


@dataclass
class GenerationJob:
    generation_id: uuid.UUID
    user_id: uuid.UUID
    prompt: list[ChatTurn]
    sessions: async_sessionmaker[AsyncSession]
    streams: GenerationStreams
    upstream: Upstream
    checkpoints: Checkpointer
    config: JobConfig
    # Where the answer stood when this job took it up: nothing yet, or an adopted one's text.
    resume: Progress = field(default_factory=Progress)
    # A fresh generation's claim (queued -> streaming), settled while the model computes its
    # first token, usually by the creating commit itself; nothing is written until it holds.
    claimed: asyncio.Task[bool] | None = None
    # Resolved as the model is sent its request, for a creator waiting to write the generation.
    asked: asyncio.Future[None] | None = None
    # This runner's span for the generation (the runner ends it); its outcome goes on it.
    span: Span = INVALID_SPAN
    _stop: StopReason | None = None
    _upstream_task: asyncio.Task[Usage | None] | None = None
    _writer: DeltaWriter | None = None
    # The answer's completion tokens and time to first token, counted on from `resume`.
    _tokens: int = 0
    _ttft_ms: float | None = None
    _saved_tokens: int = 0
    # Whether the model took the prompt in: it answered something, or was asked then stopped.
    _asked_model: bool = False
    _model_answered: bool = False
    _finish_reason: FinishReason | None = None

    def stop(self, reason: StopReason) -> None:
        """Stop streaming now; the upstream request is closed, so the model stops computing."""
        if self._stop is None:
            self._stop = reason
        if self._upstream_task is not None:
            self._upstream_task.cancel()

    def take_progress(self) -> Progress:
        """The text so far, for a checkpoint; its unsaved tokens are counted again from here."""
        assert self._writer is not None
        self._saved_tokens = self._tokens
        return Progress(
            text=self.resume.text + self._writer.received_text,
            completion_tokens=self._tokens,
            ttft_ms=self._ttft_ms,
        )

    def lost(self) -> None:
        self.stop(StopReason.RELINQUISHED)

    def canceled(self) -> None:
        self.stop(StopReason.CANCELED)

    async def run(self) -> None:
        try:
            with self.streams.writing(self.generation_id):
                await self._run()
        finally:
            self.checkpoints.forget(self.generation_id)

    async def _run(self) -> None:
        started = time.monotonic()
        # A stream without the text the answer resumes from (a continuation's first run, or
        # an adopted answer whose stream expired) gets it with the first new text.
        lead = self.resume.text if self.resume.next_index == 0 else ""
        writer = DeltaWriter(
            self.streams,
            self.generation_id,
            self.resume.next_index,
            self.resume.completion_tokens,
            lead,
        )
        self._writer = writer
        self._tokens = self._saved_tokens = self.resume.completion_tokens
        self._ttft_ms = self.resume.ttft_ms
        self._upstream_task = asyncio.create_task(self._consume(writer, started))
        if self._stop is not None:
            self._upstream_task.cancel()
        try:
            await asyncio.wait({self._upstream_task})
        except asyncio.CancelledError:
            self.stop(StopReason.RELINQUISHED)
            spans.ended(self.span, StopReason.RELINQUISHED.value, completion_tokens=self._tokens)
            raise
        if self.asked is not None:
            resolve(self.asked)  # stopped before asking: the creator must not wait
        status, error = self._outcome()
        if self._stop is StopReason.RELINQUISHED or not await self._claim_held():
            spans.ended(self.span, StopReason.RELINQUISHED.value, completion_tokens=self._tokens)
            return
        try:
            await writer.drain()
        except Exception as exc:  # Redis broke mid-answer: keep the text, report the failure.
            logger.warning("generation %s: stream write failed: %r", self.generation_id, exc)
            status, error = GenerationStatus.FAILED, ("stream_unavailable", str(exc))
        task = self._upstream_task
        usage = None if task.cancelled() or task.exception() else task.result()
        await self._finish(status, error, writer, usage, started)

    def _outcome(self) -> tuple[GenerationStatus, tuple[str, str] | None]:
        task = self._upstream_task
        assert task is not None
        if task.cancelled():
            if self._stop is StopReason.CANCELED:
                return GenerationStatus.CANCELED, None
            return GenerationStatus.FAILED, ("interrupted", "generation was interrupted")
        exc = task.exception()
        if isinstance(exc, UpstreamError):
            logger.warning(
                "generation %s failed: %s (%s)", self.generation_id, exc.detail, exc.code
            )
            return GenerationStatus.FAILED, (exc.code, exc.message)
        if exc is not None:
            logger.error("generation %s failed", self.generation_id, exc_info=exc)
            return GenerationStatus.FAILED, ("internal_error", "the generation failed")
        return GenerationStatus.SUCCEEDED, None

    async def _consume(self, writer: DeltaWriter, started: float) -> Usage | None:
        """The model's answer; while the model server is busy, it is asked again when it says,
        for up to `BUSY_PATIENCE_SECONDS` in all (a 429 comes before any text, so no text is
        asked for twice)."""
        waited = 0.0
        while True:
            try:
                return await self._consume_once(writer, started)
            except UpstreamError as exc:
                if exc.retry_after_seconds is None:
                    raise
                # Jittered, so the generations refused together do not all come back together.
                pause = exc.retry_after_seconds * random.uniform(1, 1.5)
                pause = min(pause, BUSY_PATIENCE_SECONDS - waited)
                if pause <= 0:
                    raise
                logger.info(
                    "generation %s: the model server is busy; asking again in %.0f s",
                    self.generation_id,
                    pause,
                )
                await asyncio.sleep(pause)
                waited += pause

    async def _consume_once(self, writer: DeltaWriter, started: float) -> Usage | None:
        max_tokens = max(1, self.config.max_tokens - self._tokens)
        if not tracing.enabled():
            return await self._stream(writer, started, max_tokens, None)
        with trace.use_span(spans.inference_call(self.config.model, max_tokens), end_on_exit=True):
            headers: dict[str, str] = {}
            tracing.inject(headers)
            return await self._stream(writer, started, max_tokens, headers)

    async def _stream(
        self, writer: DeltaWriter, started: float, max_tokens: int, headers: dict[str, str] | None
    ) -> Usage | None:
        usage: Usage | None = None
        chunks = self.upstream.stream_chat(
            self._sent_prompt(),
            model=self.config.model,
            max_tokens=max_tokens,
            continue_final_message=bool(self.resume.text),
            headers=headers,
        )
        if self.asked is not None:
            # The waiter runs only once this task pauses, after the request below is written.
            resolve(self.asked)
        self._asked_model = True
        try:
            async for chunk in chunks:
                self._model_answered = True
                if chunk.text:
                    if not await self._claim_held():
                        self._stop = StopReason.RELINQUISHED
                        return None
                    if self._ttft_ms is None:
                        self._ttft_ms = (time.monotonic() - started) * 1000
                        metrics.TIME_TO_FIRST_TOKEN.observe(
                            self._ttft_ms / 1000, tracing.exemplar()
                        )
                        spans.first_token(self.span, self._ttft_ms)
                    writer.push(chunk.text)
                    self._tokens += 1
                    metrics.TOKENS_STREAMED.inc()
                    self.checkpoints.streamed(self, self._tokens - self._saved_tokens)
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.finish_reason in (FinishReason.STOP, FinishReason.LENGTH):
                    self._finish_reason = FinishReason(chunk.finish_reason)
        finally:
            # Closed here, not when collected: a job stopped between two chunks (or one that
            # returned above) would leave the request to the model open until then.
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        return usage

    def _sent_prompt(self) -> list[ChatTurn]:
        resumed = [ChatTurn("assistant", self.resume.text)] if self.resume.text else []
        return self.prompt + resumed

    def _prompt_tokens(self, status: GenerationStatus, usage: Usage | None) -> int:
        """The model's count when it gave one, else an estimate of the prompt it took in; none
        for a prompt it never took (unreachable, refused, or stopped before it was asked)."""
        if usage is not None:
            return usage.prompt_tokens
        took_it = self._model_answered or (
            self._asked_model and status == GenerationStatus.CANCELED
        )
        return estimated_tokens(self._sent_prompt()) if took_it else 0

    async def _claim_held(self) -> bool:
        # Shielded: stopping the job must not cancel the claim, whose outcome decides whether
        # this process writes the generation's end.
        if self.claimed is None:
            return True
        if self.claimed.done():  # from the first token on: no shield per token
            return self.claimed.result()
        return await asyncio.shield(self.claimed)

    async def _finish(
        self,
        status: GenerationStatus,
        error: tuple[str, str] | None,
        writer: DeltaWriter,
        usage: Usage | None,
        started: float,
    ) -> None:
        text = self.resume.text + writer.received_text
        prompt_tokens = self._prompt_tokens(status, usage)
        completion_tokens = (
            usage.completion_tokens if usage and not self.resume.text else self._tokens
        )
        spans.ended(
            self.span,
            status,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            ttft_ms=self._ttft_ms,
            error=error,
        )
        ended = await record_end(
            self.sessions,
            self.streams,
            self.generation_id,
            status,
            runner_id=self.config.runner_id,
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            ttft_ms=self._ttft_ms,
            error=error,
            finish_reason=self._finish_reason if status == GenerationStatus.SUCCEEDED else None,
        )
        if ended:
            metrics.GENERATION_DURATION.observe(time.monotonic() - started, tracing.exemplar())

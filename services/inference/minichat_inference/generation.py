"""One chat completion: admission, the backend's events, metrics, and their OpenAI wire forms
(a `ChatCompletion`, or `data:` chunks ending in `data: [DONE]`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator

import anyio
from opentelemetry.trace import INVALID_SPAN, Span

from minichat import tracing
from minichat.contracts.inference import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    Usage,
    completion_id,
    now_seconds,
)
from minichat.errors import InvalidInput, MiniChatError
from minichat_inference.admission import Admission
from minichat_inference.backends import Backend, Event, Finish, Piece
from minichat_inference.errors import error_body, status_and_type
from minichat_inference.metrics import Metrics

logger = logging.getLogger(__name__)
TRACER = tracing.tracer("minichat.inference")


class Generations:
    def __init__(
        self, backend: Backend, admission: Admission, metrics: Metrics, default_max_tokens: int
    ) -> None:
        self.backend = backend
        self.admission = admission
        self.metrics = metrics
        # The cap of a request without max_tokens (INFERENCE_DEFAULT_MAX_TOKENS): one such
        # request could otherwise fill the whole context and hold its slot for minutes.
        self.default_max_tokens = default_max_tokens

    def check(self, request: ChatCompletionRequest) -> None:
        # A backend that does not know its model yet (an upstream still down) checks it later.
        if not self.backend.ready:
            return
        if request.model is not None and request.model != self.backend.model_id:
            raise InvalidInput(
                f"the model {request.model!r} does not exist; this server serves "
                f"{self.backend.model_id!r}",
                field="model",
                code="model_not_found",
            )

    async def run(self, request: ChatCompletionRequest) -> AsyncGenerator[Event, None]:
        """The backend's events inside a generation slot, measured. Close it to cancel."""
        span = self._span()
        events = self._run(request, span)
        try:
            async for event in events:
                yield event
        finally:
            # Closed here and now, not when collected: its slot is released by closing it.
            with anyio.CancelScope(shield=True):
                await events.aclose()
            span.end()

    def _span(self) -> Span:
        # Not made current: a generator's context cannot be attached across its yields.
        if not tracing.enabled():
            return INVALID_SPAN
        return TRACER.start_span(
            "inference.generate",
            attributes={
                "gen_ai.request.model": self.backend.model_id,
                "minichat.inference.backend": self.backend.name,
            },
        )

    async def _run(self, request: ChatCompletionRequest, span: Span) -> AsyncGenerator[Event, None]:
        outcome = "cancelled"
        queued_at = time.perf_counter()
        async with self.admission.slot():
            started = time.perf_counter()
            span.set_attribute("minichat.inference.queue_wait_ms", (started - queued_at) * 1000)
            first_at: float | None = None
            # Resolved once: this counter moves on every token.
            generated = self.metrics.generated_tokens.labels(self.backend.name)
            limit = request.token_limit or self.default_max_tokens
            events = self.backend.generate(request, limit)
            try:
                async for event in events:
                    if isinstance(event, Piece):
                        if first_at is None and event.text:
                            first_at = time.perf_counter()
                            self.metrics.time_to_first_token.labels(self.backend.name).observe(
                                first_at - started, tracing.exemplar()
                            )
                            span.add_event("first_token")
                        generated.inc(event.tokens)
                    else:
                        outcome = event.reason
                        self._record_finish(event, first_at)
                        span.set_attributes(
                            {
                                "gen_ai.usage.input_tokens": event.prompt_tokens,
                                "gen_ai.usage.output_tokens": event.completion_tokens,
                            }
                        )
                    yield event
            except Exception:
                outcome = "error"
                raise
            finally:
                with anyio.CancelScope(shield=True):
                    await events.aclose()
                self.metrics.finished(outcome)
                span.set_attribute("minichat.inference.outcome", outcome)

    def _record_finish(self, finish: Finish, first_at: float | None) -> None:
        self.metrics.prompt_tokens.labels(self.backend.name).inc(finish.prompt_tokens)
        if first_at is not None and finish.completion_tokens > 1:
            elapsed = time.perf_counter() - first_at
            if elapsed > 0:
                rate = (finish.completion_tokens - 1) / elapsed
                self.metrics.tokens_per_second.labels(self.backend.name).observe(rate)


async def collect(model: str, first: Event, events: AsyncGenerator[Event, None]) -> ChatCompletion:
    """The whole answer, for `stream: false`."""
    parts: list[str] = []
    event = first
    while not isinstance(event, Finish):
        parts.append(event.text)
        event = await anext(events)
    return ChatCompletion(
        id=completion_id(),
        created=now_seconds(),
        model=model,
        choices=[
            Choice(message=AssistantMessage(content="".join(parts)), finish_reason=event.reason)
        ],
        usage=Usage.of(event.prompt_tokens, event.completion_tokens),
    )


def _data(payload: str) -> bytes:
    return f"data: {payload}\n\n".encode()


async def sse(
    request: ChatCompletionRequest, model: str, first: Event, events: AsyncGenerator[Event, None]
) -> AsyncGenerator[bytes, None]:
    """The streaming answer. An error after the first byte can no longer change the status, so it
    goes out as a `data: {"error": ...}` line and the stream ends without `[DONE]`, as OpenAI's
    and vLLM's do."""
    cid, created = completion_id(), now_seconds()

    def chunk(choices: list[ChunkChoice], usage: Usage | None = None) -> bytes:
        body = ChatCompletionChunk(
            id=cid, created=created, model=model, choices=choices, usage=usage
        )
        return _data(body.model_dump_json(exclude_none=True))

    # The per-token chunk is the hot path: its fixed part is rendered once, by the same model
    # that renders the others, and only the text is encoded per token.
    head, _, tail = chunk([ChunkChoice(delta=Delta(content="\0"))]).partition(b'"\\u0000"')
    role_sent = False
    event = first
    try:
        while True:
            if isinstance(event, Piece):
                if event.text and role_sent:
                    yield head + _json(event.text).encode() + tail
                elif event.text:
                    role_sent = True
                    delta = Delta(content=event.text, role="assistant")
                    yield chunk([ChunkChoice(delta=delta)])
            else:
                delta = Delta(role=None if role_sent else "assistant", content=None)
                yield chunk([ChunkChoice(delta=delta, finish_reason=event.reason)])
                if request.wants_usage:
                    yield chunk([], Usage.of(event.prompt_tokens, event.completion_tokens))
                yield b"data: [DONE]\n\n"
                return
            event = await anext(events)
    except MiniChatError as exc:
        _status, type_ = status_and_type(exc)
        yield _data(_json(error_body(exc.message, type_, exc.field, exc.code)))
    except Exception:
        logger.exception("generation failed mid-stream")
        yield _data(_json(error_body("the generation failed", "server_error", None, None)))
    finally:
        with anyio.CancelScope(shield=True):
            await _aclose(events)


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


async def _aclose(events: AsyncGenerator[Event, None]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()

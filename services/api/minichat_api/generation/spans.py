"""The spans of a generation's lifecycle, one trace from its POST to the worker's aggregate.

`generation.create` (the request's work) is the parent of `generation.run`, the span of the
runner that has the generation; its context is stored with the generation, so that a process
adopting it runs a `generation.run` of its own in the same trace, linked to the one before.
Under a run: `generation.queue_wait`, `generation.inference` (its context goes to the inference
plane), `generation.finish` (the usage event carries its context to the relay and the worker).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanKind, Status, StatusCode

from minichat import tracing
from minichat.statuses import GenerationStatus
from minichat_api.generation.progress import Progress

TRACER = tracing.tracer("minichat.generation")
GENERATION_ID = "minichat.generation.id"
STATE = "minichat.generation.state"


def start_run(
    generation_id: uuid.UUID,
    runner_id: str,
    *,
    adopted_from: str | None = None,
    previous_owner: str | None = None,
    adoptions: int = 0,
) -> Span:
    """The span of this runner's work on a generation, child of the current span; an adoption
    continues the stored trace (`adopted_from`), linked to the span of the runner before."""
    if not tracing.enabled():
        return INVALID_SPAN
    attributes: dict[str, str | int] = {
        GENERATION_ID: str(generation_id),
        "minichat.runner.id": runner_id,
    }
    if adoptions:
        attributes["minichat.generation.adoptions"] = adoptions
        attributes["minichat.runner.previous"] = previous_owner or ""
    return TRACER.start_span(
        "generation.run",
        context=tracing.context_from(adopted_from),
        attributes=attributes,
        links=tracing.link_to(adopted_from, **{"minichat.link": "adopted_from"}),
    )


def ended(
    span: Span,
    status: GenerationStatus | str,
    *,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    ttft_ms: float | None = None,
    error: tuple[str, str] | None = None,
) -> None:
    """The final state of this runner's part, with what it produced, on its span."""
    if not span.is_recording():
        return
    attributes: Mapping[str, str | int | float] = {
        STATE: str(getattr(status, "value", status)),
        "minichat.generation.prompt_tokens": prompt_tokens,
        "minichat.generation.completion_tokens": completion_tokens,
        **({"minichat.generation.ttft_ms": ttft_ms} if ttft_ms is not None else {}),
        **({"minichat.generation.error_code": error[0]} if error else {}),
    }
    span.set_attributes(attributes)
    if status == GenerationStatus.FAILED:
        span.set_status(Status(StatusCode.ERROR, error[0] if error else "failed"))


def first_token(span: Span, ttft_ms: float) -> None:
    if span.is_recording():
        span.add_event("first_token", {"minichat.generation.ttft_ms": ttft_ms})


class _Running(Protocol):
    @property
    def generation_id(self) -> uuid.UUID: ...
    @property
    def span(self) -> Span: ...


@contextmanager
def checkpoint(jobs: Sequence[_Running], progress: Mapping[uuid.UUID, Progress]) -> Iterator[None]:
    """One span for a round that saves many generations in one statement, linked to each
    one's run, and on each run an event with the tokens saved."""
    if not tracing.enabled():
        yield
        return
    for job in jobs:
        if job.span.is_recording():
            saved = progress[job.generation_id].completion_tokens
            job.span.add_event("checkpoint", {"minichat.generation.completion_tokens": saved})
    links = [Link(job.span.get_span_context()) for job in jobs if job.span.is_recording()]
    with TRACER.start_as_current_span(
        "generation.checkpoint", links=links, attributes={"minichat.generations": len(jobs)}
    ):
        yield


def inference_call(model: str, max_tokens: int) -> Span:
    return TRACER.start_span(
        "generation.inference",
        kind=SpanKind.CLIENT,
        attributes={"gen_ai.request.model": model, "gen_ai.request.max_tokens": max_tokens},
    )

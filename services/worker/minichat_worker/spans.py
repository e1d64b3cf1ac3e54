"""The worker's span per event: the aggregate update, in the trace of the change that caused it.

Its parent is the relay's publish span (the message's `traceparent` header), else the event's
own `traceparent`; it lasts from the message's arrival to its batch's commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from minichat import tracing
from minichat.contracts.events import AuditEvent, UsageEvent

TRACER = tracing.tracer("minichat.worker")


def start_apply(event: object, headers: Mapping[str, Any] | None = None) -> Span:
    if not (tracing.enabled() and isinstance(event, UsageEvent | AuditEvent)):
        return INVALID_SPAN
    header = (headers or {}).get("traceparent")
    parent = header if isinstance(header, str) else event.traceparent
    attributes: dict[str, str] = {
        "messaging.system": "rabbitmq",
        "messaging.message.id": str(event.event_id),
    }
    if isinstance(event, UsageEvent):
        attributes["minichat.generation.id"] = str(event.generation_id)
        attributes["minichat.generation.state"] = str(event.status)
    return TRACER.start_span(
        f"worker.apply {event.event_type}",
        context=tracing.context_from(parent),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    )


def end_apply(span: Span, outcome: str, failure: BaseException | None = None) -> None:
    """`outcome`: applied, duplicate, retried or dead_lettered."""
    if span.is_recording():
        span.set_attribute("minichat.worker.outcome", outcome)
        if failure is not None:
            span.set_status(Status(StatusCode.ERROR, f"{type(failure).__name__}: {failure}"))
    span.end()

"""Events the api writes to the outbox and the worker consumes from RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from minichat.statuses import GenerationStatus


def _now() -> datetime:
    return datetime.now(UTC)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=_now)
    # W3C trace context of the request that caused the event, so one trace spans the broker.
    traceparent: str | None = None


class UsageEvent(_Event):
    event_type: Literal["usage_event"] = "usage_event"
    user_id: uuid.UUID
    chat_id: uuid.UUID
    generation_id: uuid.UUID
    model: str
    status: Literal[GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.CANCELED]
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    ttft_ms: float | None = Field(default=None, ge=0)
    duration_ms: float = Field(ge=0)


class AuditEvent(_Event):
    event_type: Literal["audit_event"] = "audit_event"
    actor_user_id: uuid.UUID | None
    action: str
    target: str | None = None
    request_metadata: dict[str, Any] = Field(default_factory=dict)


Event = Annotated[UsageEvent | AuditEvent, Field(discriminator="event_type")]


# The wire between the outbox relay and the worker. Each outbox row travels as one Celery
# task message (protocol 2) named after its event type, on one durable queue whose rejected
# messages are dead-lettered. Both sides declare this same topology, so either may start first.
EVENTS_EXCHANGE: Final = "minichat.events"
EVENTS_QUEUE: Final = "minichat.events"
EVENTS_ROUTING_KEY: Final = "minichat.events"
DEAD_LETTER_EXCHANGE: Final = "minichat.events.dlx"
DEAD_LETTER_QUEUE: Final = "minichat.events.dead"
EVENTS_QUEUE_ARGUMENTS: Final[Mapping[str, str]] = MappingProxyType(
    {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-dead-letter-routing-key": DEAD_LETTER_QUEUE}
)


@dataclass(frozen=True)
class BoundQueue:
    """A durable queue bound to a durable direct exchange by one routing key."""

    queue: str
    exchange: str
    routing_key: str
    arguments: Mapping[str, str] = field(default_factory=dict)


# The whole topology, in the order it is declared (the dead letters first, so the events
# queue's dead-lettering always has somewhere to go). Api and worker both declare it from here.
TOPOLOGY: Final[tuple[BoundQueue, ...]] = (
    BoundQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE),
    BoundQueue(EVENTS_QUEUE, EVENTS_EXCHANGE, EVENTS_ROUTING_KEY, EVENTS_QUEUE_ARGUMENTS),
)
USAGE_EVENT_TASK: Final = "minichat.usage_event"
AUDIT_EVENT_TASK: Final = "minichat.audit_event"
TASK_BY_EVENT_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {"usage_event": USAGE_EVENT_TASK, "audit_event": AUDIT_EVENT_TASK}
)

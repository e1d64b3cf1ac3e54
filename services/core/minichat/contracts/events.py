"""Events the api writes to the outbox and the worker consumes from RabbitMQ."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

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

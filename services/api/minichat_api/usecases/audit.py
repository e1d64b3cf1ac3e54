"""Audit events: who did what to which thing, written to the outbox with the change itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from minichat.contracts.events import AuditEvent
from minichat.outbox import add_event


@dataclass(frozen=True)
class RequestContext:
    """Who asked and from where; recorded with the audit events a request causes."""

    client: str
    user_agent: str | None = None
    traceparent: str | None = None


def record(
    session: AsyncSession,
    context: RequestContext,
    *,
    actor: uuid.UUID | None,
    action: str,
    target: str | None = None,
) -> None:
    add_event(
        session,
        AuditEvent(
            actor_user_id=actor,
            action=action,
            target=target,
            traceparent=context.traceparent,
            request_metadata={"client": context.client, "user_agent": context.user_agent},
        ),
    )

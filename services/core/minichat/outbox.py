"""Writing events to the transactional outbox: same transaction as the change they describe."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from minichat.contracts.events import AuditEvent, UsageEvent
from minichat.db.models import OutboxEvent


def add_event(session: AsyncSession, event: UsageEvent | AuditEvent) -> None:
    session.add(
        OutboxEvent(
            id=event.event_id,
            event_type=event.event_type,
            payload=event.model_dump(mode="json"),
            created_at=event.occurred_at,
        )
    )

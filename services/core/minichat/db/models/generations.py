"""Generations: one model answer being produced for a chat, and its lifecycle state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from minichat.db.base import Base, new_id, utcnow
from minichat.statuses import GenerationStatus, sql_in

ACTIVE_SQL = (
    f"status IN ({sql_in(frozenset({GenerationStatus.QUEUED, GenerationStatus.STREAMING}))})"
)


class Generation(Base):
    __tablename__ = "generations"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(GenerationStatus)})", name="status"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_generations_user_id_idem_key"),
        Index("ix_generations_chat_id_created_at", "chat_id", "created_at"),
        Index("ix_generations_status", "status"),
        # One answer running per chat, however many creates race for it.
        Index(
            "uq_generations_chat_id_active",
            "chat_id",
            unique=True,
            postgresql_where=text(ACTIVE_SQL),
            sqlite_where=text(ACTIVE_SQL),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    chat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    # Denormalised owner: every lookup is owner-scoped without a join.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=GenerationStatus.QUEUED)
    model: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    user_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    # Checked at commit: the final UPDATE names the message the same transaction then writes.
    assistant_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL", deferrable=True, initially="DEFERRED")
    )
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    # Checkpoint of the text streamed so far, so another process can adopt and continue it.
    partial_text: Mapped[str] = mapped_column(Text, default="")
    checkpointed_at: Mapped[datetime | None]
    adoptions: Mapped[int] = mapped_column(default=0)
    runner_id: Mapped[str | None] = mapped_column(String(200))
    # The model's FinishReason for an answer it ended ("length": cut by the token limit).
    finish_reason: Mapped[str | None] = mapped_column(String(16))
    # W3C trace context of the span of the runner that has it, for an adopter to link to.
    traceparent: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    ttft_ms: Mapped[float | None]
    cancel_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

"""Bodies of the generation routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from minichat.db.models import Generation
from minichat.statuses import FinishReason, GenerationStatus


class UsagePublic(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class GenerationError(BaseModel):
    code: str
    message: str


class GenerationCreate(BaseModel):
    """The optional body of `POST /api/chats/{id}/generations`."""

    continue_from: uuid.UUID | None = Field(
        default=None,
        description="the id of an answer (an assistant message) to the chat's last message that "
        'the token limit cut (finish_reason "length"): the new answer continues its text, and '
        "its stream begins with it",
    )


class GenerationPublic(BaseModel):
    id: uuid.UUID
    chat_id: uuid.UUID
    status: GenerationStatus
    assistant_message_id: uuid.UUID | None
    model: str
    created_at: datetime
    finished_at: datetime | None
    usage: UsagePublic | None
    error: GenerationError | None
    finish_reason: FinishReason | None = Field(
        description='why the model ended the answer: "length" when the token limit cut it (it '
        'can then be continued), else "stop"; null while it runs, and when it was canceled '
        "or failed"
    )

    @classmethod
    def of(cls, generation: Generation) -> GenerationPublic:
        finished = generation.finished_at is not None
        return cls(
            id=generation.id,
            chat_id=generation.chat_id,
            status=GenerationStatus(generation.status),
            assistant_message_id=generation.assistant_message_id,
            model=generation.model,
            created_at=generation.created_at,
            finished_at=generation.finished_at,
            usage=UsagePublic(
                prompt_tokens=generation.prompt_tokens or 0,
                completion_tokens=generation.completion_tokens or 0,
            )
            if finished
            else None,
            error=GenerationError(
                code=generation.error_code, message=generation.error_message or ""
            )
            if generation.error_code
            else None,
            finish_reason=FinishReason(generation.finish_reason)
            if generation.finish_reason
            else None,
        )

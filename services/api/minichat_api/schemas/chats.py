"""Bodies of the chat and message routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from minichat.statuses import FinishReason, MessageRole, MessageStatus
from minichat_api.schemas.common import NoNul

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
MAX_MESSAGE_CHARS = 32_000


class ChatCreate(BaseModel):
    title: Title | None = None


class ChatUpdate(BaseModel):
    title: Title


class ChatPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    created_at: datetime
    updated_at: datetime


class MessageCreate(BaseModel):
    content: Annotated[str, NoNul] = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain more than whitespace")
        return value


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    chat_id: uuid.UUID
    role: MessageRole
    content: str
    status: MessageStatus
    finish_reason: FinishReason | None = Field(
        description='an answer\'s: "length" when the token limit cut it, else "stop"; null for '
        "the user's messages and for answers that were canceled or failed"
    )
    created_at: datetime

"""The OpenAI chat-completions protocol as MiniChat speaks it (inference plane and its clients).

Requests accept the fields OpenAI-compatible servers share and ignore the rest, so any client
library works; `continue_final_message` (continuing an assistant message) and
`repetition_penalty` are vLLM's extensions.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator

Role = Literal["system", "developer", "user", "assistant"]
FinishReason = Literal["stop", "length"]
# Far above any context window we serve; the backend checks the real limit.
MAX_TOKENS_LIMIT = 131_072


class TextPart(BaseModel):
    """One element of the array form of `content`; only text parts are supported."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["text"]
    text: StrictStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    role: Role
    content: StrictStr | list[TextPart]

    @property
    def text(self) -> str:
        """The content as one string (array form joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`. Strict: `"max_tokens": "5"` is an error, not a 5."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: StrictStr | None = None
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_LIMIT)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_LIMIT)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    # vLLM's name; 1 is off, above 1 makes a token already in the text less likely.
    repetition_penalty: Annotated[float, Field(gt=0, le=2)] | None = None
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=8)] | None = None
    seed: int | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = None
    continue_final_message: bool = False

    @field_validator("temperature", "top_p", "repetition_penalty", mode="before")
    @classmethod
    def _ints_are_numbers(cls, value: object) -> object:
        # Strict mode refuses `"temperature": 0` from JSON; it is a perfectly good number.
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @field_validator("continue_final_message")
    @classmethod
    def _continuation_needs_an_assistant_message(cls, value: bool, info: ValidationInfo) -> bool:
        messages = info.data.get("messages")
        if value and messages and messages[-1].role != "assistant":
            raise ValueError("needs the last message to be the assistant's")
        return value

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else [s for s in self.stop if s]

    @property
    def wants_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason | None


class ChatCompletion(BaseModel):
    """The non-streaming answer."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` line of a streaming answer; the usage-only last chunk has no choices."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "minichat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`."""

    error: ErrorDetail


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def now_seconds() -> int:
    return int(time.time())

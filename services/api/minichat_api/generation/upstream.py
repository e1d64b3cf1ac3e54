"""The runner's view of the inference plane: text chunks and usage, errors as `UpstreamError`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from minichat.contracts.inference import ChatCompletionRequest, ChatMessage
from minichat.errors import InvalidInput, MiniChatError, RateLimited
from minichat.inference_client import ContentDelta, InferenceClient, StreamEnd


@dataclass(frozen=True)
class ChatTurn:
    role: str
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Chunk:
    """One streamed piece: text, or the end: the usage and the model's finish reason."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


class UpstreamError(Exception):
    """`message` is for the chat's user; `detail`, the inference server's own words, is for
    the operator's log: it names internal addresses, and an upstream's refusal can quote a
    masked API key."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str | None = None,
        *,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or message
        # Set when the server is busy and asks to be asked again later.
        self.retry_after_seconds = retry_after_seconds


_FOR_USERS = {
    "inference_unreachable": "the model server cannot be reached; try again in a moment",
    "inference_timeout": "the model server did not answer in time; try again in a moment",
    "inference_disconnected": "the connection to the model server was lost mid-answer",
    "inference_stream_truncated": "the model server stopped before the answer was complete",
    "inference_busy": "the model server is busy; try again in a moment",
}


def upstream_error(exc: MiniChatError) -> UpstreamError:
    """What the user is told of a failure of the inference server. A request it refused
    (`InvalidInput`: too long a prompt, an unknown model) is told in its words; anything
    about the server itself is told in ours."""
    if isinstance(exc, InvalidInput):
        return UpstreamError(exc.code, exc.message)
    if isinstance(exc, RateLimited):
        return UpstreamError(
            exc.code,
            _FOR_USERS["inference_busy"],
            detail=exc.message,
            retry_after_seconds=exc.retry_after_seconds,
        )
    message = _FOR_USERS.get(exc.code, "the model server failed; try again in a moment")
    return UpstreamError(exc.code, message, detail=exc.message)


class Upstream(Protocol):
    def stream_chat(
        self,
        messages: Sequence[ChatTurn],
        *,
        model: str,
        max_tokens: int,
        continue_final_message: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Chunk]: ...


def storable(text: str) -> str:
    """What PostgreSQL can store of a piece of an answer: no U+0000, and no lone surrogate (a
    JSON escape can carry one) but a `?` in its place. The client is streamed what is stored."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "")


class OpenAIUpstream:
    """Streams from any OpenAI-compatible server through the shared inference client."""

    def __init__(self, client: InferenceClient) -> None:
        self._client = client

    @classmethod
    def create(
        cls,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        api_key: str | None = None,
        max_connections: int = 10_000,
    ) -> OpenAIUpstream:
        # One api process streams thousands of generations at once: a pool to match.
        return cls(
            InferenceClient(
                base_url,
                api_key=api_key,
                timeout_seconds=read_timeout,
                connect_timeout_seconds=connect_timeout,
                max_connections=max_connections,
            )
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def first_model(self) -> str:
        try:
            models = await self._client.models()
        except MiniChatError as exc:
            raise ValueError(exc.message) from exc
        return models.data[0].id

    async def stream_chat(
        self,
        messages: Sequence[ChatTurn],
        *,
        model: str,
        max_tokens: int,
        continue_final_message: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Chunk]:
        request = ChatCompletionRequest(
            model=model,
            messages=[ChatMessage(role=m.role, content=m.content) for m in messages],  # type: ignore[arg-type]
            max_tokens=max_tokens,
            continue_final_message=continue_final_message,
        )
        try:
            async for event in self._client.stream_chat(request, headers=headers):
                if isinstance(event, ContentDelta):
                    text = storable(event.text)
                    if text:
                        yield Chunk(text=text)
                elif isinstance(event, StreamEnd):
                    n = event.usage
                    usage = Usage(n.prompt_tokens, n.completion_tokens) if n else None
                    yield Chunk(usage=usage, finish_reason=event.finish_reason)
        except MiniChatError as exc:
            raise upstream_error(exc) from exc

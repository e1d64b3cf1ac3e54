"""The runner's view of the inference plane: an OpenAI-compatible streaming chat client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


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
    """One streamed piece: text, or the final usage."""

    text: str = ""
    usage: Usage | None = None


class UpstreamError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Upstream(Protocol):
    def stream_chat(
        self,
        messages: Sequence[ChatTurn],
        *,
        model: str,
        max_tokens: int,
        continue_final_message: bool = False,
    ) -> AsyncIterator[Chunk]: ...


class OpenAIUpstream:
    """Streams `/v1/chat/completions` of any OpenAI-compatible server."""

    def __init__(self, http: httpx.AsyncClient, api_key: str | None = None) -> None:
        self._http = http
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    @classmethod
    def create(
        cls,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        api_key: str | None = None,
        max_connections: int = 1000,
    ) -> OpenAIUpstream:
        http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=100),
        )
        return cls(http, api_key)

    async def close(self) -> None:
        await self._http.aclose()

    async def first_model(self) -> str:
        response = await self._http.get("/v1/models", headers=self._headers, timeout=5)
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])

    async def stream_chat(
        self,
        messages: Sequence[ChatTurn],
        *,
        model: str,
        max_tokens: int,
        continue_final_message: bool = False,
    ) -> AsyncIterator[Chunk]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
        }
        if continue_final_message:
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        try:
            async with self._http.stream(
                "POST", "/v1/chat/completions", json=body, headers=self._headers
            ) as response:
                if response.status_code != 200:
                    raise UpstreamError(
                        "inference_rejected",
                        f"inference answered {response.status_code}: "
                        f"{_error_message(await response.aread())}",
                    )
                finished = False
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        finished = True
                        break
                    chunk = _parse_chunk(payload)
                    if chunk is not None:
                        yield chunk
                if not finished:
                    raise UpstreamError(
                        "inference_disconnected", "inference stream ended before [DONE]"
                    )
        except httpx.TimeoutException as exc:
            raise UpstreamError("inference_timeout", f"inference timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise UpstreamError(
                "inference_unavailable", f"cannot reach inference: {exc!r}"
            ) from exc


def _parse_chunk(payload: str) -> Chunk | None:
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise UpstreamError("inference_protocol", "inference sent a malformed chunk") from exc
    if "error" in data:
        raise UpstreamError("inference_error", _error_message(payload.encode()))
    usage = data.get("usage")
    text = ""
    for choice in data.get("choices") or []:
        text += (choice.get("delta") or {}).get("content") or ""
    parsed_usage = (
        Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
        if usage
        else None
    )
    if not text and parsed_usage is None:
        return None
    return Chunk(text=text, usage=parsed_usage)


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        error = data.get("error", data)
        return str(error.get("message", error) if isinstance(error, dict) else error)[:500]
    except (json.JSONDecodeError, AttributeError):
        return raw.decode(errors="replace")[:500]

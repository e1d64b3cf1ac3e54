"""The HTTP surface: OpenAI's `/v1/chat/completions` and `/v1/models`, probes, and `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client.exposition import choose_encoder
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from minichat.contracts.inference import ChatCompletionRequest, ModelCard, ModelList
from minichat.errors import InvalidInput
from minichat_inference.backends import Event
from minichat_inference.errors import invalid_input_of
from minichat_inference.generation import collect, sse
from minichat_inference.state import StateDep

router = APIRouter()
T = TypeVar("T")

_CHAT_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ChatCompletionRequest.model_json_schema()}},
    }
}


class ClientGone(Exception):
    """The caller disconnected before the answer started."""


class _GenerationResponse(StreamingResponse):
    """A streamed answer that closes its generation however the response ends. Starlette leaves
    a body iterator that a disconnect interrupted mid-send suspended at its `yield`, so without
    this its slot (and an upstream's connection) would be held until the garbage collector
    happened to find it."""

    def __init__(self, body: AsyncGenerator[bytes, None], events: AsyncGenerator[Event, None]):
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._body = body
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
                # A body that never started has no cleanup of its own to run.
                await self._events.aclose()


# Uptime checkers and load balancers probe with HEAD as often as with GET.
@router.get("/healthz")
@router.head("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
@router.head("/readyz", include_in_schema=False)
async def readyz(state: StateDep) -> JSONResponse:
    ready = state.backend.ready
    state.metrics.ready.set(1 if ready else 0)
    body = {"status": "ready" if ready else "not_ready", "model": state.backend.model_id}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
@router.head("/metrics", include_in_schema=False)
async def metrics(request: Request, state: StateDep) -> Response:
    state.metrics.ready.set(1 if state.backend.ready else 0)
    # OpenMetrics to a scraper that asks for it: the only format that carries exemplars.
    encode, media_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(state.metrics.registry), media_type=media_type)


@router.get("/v1/models")
async def models(state: StateDep) -> ModelList:
    return ModelList(data=[ModelCard(id=state.backend.model_id)])


@router.post("/v1/chat/completions", openapi_extra=_CHAT_SCHEMA)
async def chat_completions(request: Request, state: StateDep) -> Response:
    body = await _read_body(request, state.settings.max_request_bytes)
    try:
        chat = ChatCompletionRequest.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_input_of(exc) from exc
    state.generations.check(chat)
    model = state.backend.model_id
    events = state.generations.run(chat)
    try:
        # Waiting for a slot and for the first token happens before any byte is sent, so a
        # full queue or a bad prompt still gets its proper status code.
        first = await _until_disconnected(request, _first(events))
    except ClientGone:
        return Response(status_code=499)
    if chat.stream:
        return _GenerationResponse(sse(chat, model, first, events), events)
    try:
        completion = await _until_disconnected(request, collect(model, first, events))
    except ClientGone:
        return Response(status_code=499)
    finally:
        await events.aclose()
    return JSONResponse(completion.model_dump(mode="json"))


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = InvalidInput(
        f"the request body is larger than {limit} bytes", code="request_too_large"
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """`work`'s result, or ClientGone (with `work` cancelled) if the client disconnects first."""
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    watcher: asyncio.Future[None] = asyncio.ensure_future(_disconnect(request))
    pending: list[asyncio.Future[Any]] = [task, watcher]
    try:
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        raise ClientGone
    return task.result()


async def _first(events: AsyncGenerator[Event, None]) -> Event:
    return await anext(events)


async def _disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return

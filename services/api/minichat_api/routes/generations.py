"""Generations: start one for a chat, read it, stream it (SSE), cancel it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from sse_starlette import EventSourceResponse

from minichat.errors import InvalidInput
from minichat.statuses import GenerationStatus
from minichat_api.deps import CurrentUserId, RequestContextDep, SessionDep, StateDep
from minichat_api.generation import store
from minichat_api.schemas.common import ErrorBody
from minichat_api.schemas.generations import GenerationCreate, GenerationPublic
from minichat_api.state import AppState
from minichat_api.streams import valid_event_id
from minichat_api.streams.feed import Whereabouts, open_feed

router = APIRouter(tags=["generations"], responses={401: {"model": ErrorBody}})


@router.post(
    "/api/chats/{chat_id}/generations",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
        429: {"model": ErrorBody, "description": "LIMIT_CONCURRENT_ANSWERS reached"},
    },
)
async def create_generation(
    chat_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    state: StateDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
    body: GenerationCreate | None = None,
) -> GenerationPublic:
    generation = await state.generations.create(
        session,
        user_id,
        chat_id,
        model=await state.model_name(),
        idempotency_key=idempotency_key,
        continue_from=body.continue_from if body else None,
    )
    return GenerationPublic.of(generation)


@router.get("/api/generations/{generation_id}", responses={404: {"model": ErrorBody}})
async def get_generation(
    generation_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> GenerationPublic:
    return GenerationPublic.of(await store.get_generation(session, user_id, generation_id))


@router.get(
    "/api/generations/{generation_id}/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "delta, usage, error, done; done is "
            '{"status": ..., "finish_reason": "length"} when the token limit cut the answer',
        },
        204: {"description": "the generation has ended and Last-Event-ID is its last event"},
        400: {"model": ErrorBody},
        404: {"model": ErrorBody},
        429: {"model": ErrorBody, "description": "the user has STREAM_MAX_PER_USER feeds open"},
    },
)
async def stream_generation(
    generation_id: uuid.UUID,
    user_id: CurrentUserId,
    state: StateDep,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[
        str | None, Query(description="for clients that cannot set Last-Event-ID")
    ] = None,
) -> Response:
    after, after_field = _resume_after(last_event_id_header, last_event_id)
    feed = await open_feed(
        generation_id,
        after,
        after_field=after_field,
        whereabouts=await _whereabouts(state, user_id, generation_id),
        streams=state.streams,
        endings=state.endings,
        ping_seconds=state.settings.stream_ping_seconds,
    )
    if feed is None:
        # An EventSource reconnects after every close, except from a 204.
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return EventSourceResponse(
        state.feeds_per_user.open(user_id, feed),
        # The feed pings on its own after a quiet while; no second timer per client.
        ping=3600,
        # A client that stops reading is let go (it resumes with Last-Event-ID), rather than
        # holding its feed, and what is queued for it, for as long as its socket lives.
        send_timeout=state.settings.stream_send_timeout_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _resume_after(header: str | None, query: str | None) -> tuple[str | None, str]:
    """The id the client resumes after (the header, else the query; blank is none, as an
    EventSource with no last id sends none), and which of the two named it."""
    for value, field in ((header, "Last-Event-ID"), (query, "last_event_id")):
        if value is not None and value.strip():
            if not valid_event_id(value.strip()):
                raise InvalidInput(
                    f"{field} must be an event id this stream sent (like 1700000000000-0)",
                    field=field,
                    code="invalid_last_event_id",
                )
            return value.strip(), field
    return None, "Last-Event-ID"


async def _whereabouts(
    state: AppState, user_id: uuid.UUID, generation_id: uuid.UUID
) -> Whereabouts:
    """Where the caller's generation stands; 404 if it is not theirs. A generation this
    process is streaming is known here, which spares the stream a database round trip."""
    owner = state.runner.running_here_for(generation_id)
    if owner is None:
        async with state.sessions() as session:
            generation = await store.get_generation(session, user_id, generation_id)
        if GenerationStatus(generation.status).is_terminal:
            return Whereabouts.ENDED
        return Whereabouts.RUNNING_ELSEWHERE
    if owner != user_id:
        raise store.generation_not_found()
    return Whereabouts.RUNNING_HERE


@router.post("/api/generations/{generation_id}/cancel", responses={404: {"model": ErrorBody}})
async def cancel_generation(
    generation_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    state: StateDep,
    context: RequestContextDep,
) -> GenerationPublic:
    generation = await state.generations.cancel(session, user_id, generation_id, context)
    return GenerationPublic.of(generation)

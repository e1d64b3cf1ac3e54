"""/api/chats and their messages; every route is scoped to the signed-in user."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AfterValidator

from minichat_api.deps import CurrentUserId, RequestContextDep, SessionDep, StateDep
from minichat_api.generation import service
from minichat_api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from minichat_api.schemas.chats import (
    ChatCreate,
    ChatPublic,
    ChatUpdate,
    MessageCreate,
    MessagePublic,
)
from minichat_api.schemas.common import ErrorBody, Page
from minichat_api.usecases import chats, messages

router = APIRouter(
    prefix="/api/chats",
    tags=["chats"],
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody, "description": "no such chat"}},
)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="next_cursor of the previous page; none for the first"),
    # `?cursor=` asks for the first page, as no cursor does.
    AfterValidator(lambda cursor: cursor or None),
]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_chat(
    session: SessionDep,
    user_id: CurrentUserId,
    context: RequestContextDep,
    body: ChatCreate | None = None,
) -> ChatPublic:
    chat = await chats.create_chat(session, user_id, body.title if body else None, context)
    return ChatPublic.model_validate(chat)


@router.get("")
async def list_chats(
    session: SessionDep, user_id: CurrentUserId, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[ChatPublic]:
    items, next_cursor = await chats.list_chats(session, user_id, cursor=cursor, limit=limit)
    return Page[ChatPublic](
        items=[ChatPublic.model_validate(c) for c in items], next_cursor=next_cursor
    )


@router.get("/{chat_id}")
async def get_chat(chat_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId) -> ChatPublic:
    return ChatPublic.model_validate(await chats.get_chat(session, user_id, chat_id))


@router.patch("/{chat_id}")
async def rename_chat(
    chat_id: uuid.UUID, body: ChatUpdate, session: SessionDep, user_id: CurrentUserId
) -> ChatPublic:
    chat = await chats.rename_chat(session, user_id, chat_id, body.title)
    return ChatPublic.model_validate(chat)


@router.delete("/{chat_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_chat(
    chat_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    context: RequestContextDep,
    state: StateDep,
) -> None:
    await state.generations.delete_chat(session, user_id, chat_id, context)


@router.get("/{chat_id}/messages")
async def list_messages(
    chat_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[MessagePublic]:
    items, next_cursor = await messages.list_messages(
        session, user_id, chat_id, cursor=cursor, limit=limit
    )
    return Page[MessagePublic](
        items=[MessagePublic.model_validate(m) for m in items], next_cursor=next_cursor
    )


@router.post(
    "/{chat_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": ErrorBody, "description": "an answer is being written"},
        429: {"model": ErrorBody, "description": "LIMIT_MESSAGES_PER_MINUTE reached"},
    },
)
async def post_message(
    chat_id: uuid.UUID,
    body: MessageCreate,
    session: SessionDep,
    user_id: CurrentUserId,
    state: StateDep,
) -> MessagePublic:
    await state.fair_use.check_message(user_id)
    message = await service.post_message(session, user_id, chat_id, body.content)
    return MessagePublic.model_validate(message)

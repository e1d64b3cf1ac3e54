"""Chats, always scoped to their owner: another user's chat does not exist for you."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.db.models import Chat
from minichat.errors import NotFound, Unauthenticated
from minichat_api.pagination import decode_cursor, encode_cursor
from minichat_api.usecases import audit
from minichat_api.usecases.audit import RequestContext

DEFAULT_TITLE = "New chat"


def chat_not_found() -> NotFound:
    return NotFound("chat not found", code="chat_not_found")


async def create_chat(
    session: AsyncSession, user_id: uuid.UUID, title: str | None, context: RequestContext
) -> Chat:
    chat = Chat(user_id=user_id, title=title or DEFAULT_TITLE)
    session.add(chat)
    try:
        await session.flush()
    except IntegrityError as exc:
        # The one key a new chat can break is its owner's: a signed token can outlive its
        # account (a database restored under the same secret).
        await session.rollback()
        raise Unauthenticated(
            "the account of this token no longer exists", code="invalid_token"
        ) from exc
    audit.record(session, context, actor=user_id, action="chat.created", target=f"chat:{chat.id}")
    await session.commit()
    return chat


async def get_chat(session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID) -> Chat:
    chat = await session.scalar(select(Chat).where(Chat.id == chat_id, Chat.user_id == user_id))
    if chat is None:
        raise chat_not_found()
    return chat


async def lock_chat(session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID) -> None:
    """Hold the chat's row until the transaction ends: what changes the chat's messages or
    answers (a message, an answer's start, the chat's deletion) takes turns."""
    # FOR NO KEY UPDATE: these take turns among themselves, yet a row inserted meanwhile
    # that refers to the chat (its foreign key's KEY SHARE lock) does not wait for them.
    locked = await session.scalar(
        select(Chat.id)
        .where(Chat.id == chat_id, Chat.user_id == user_id)
        .with_for_update(key_share=True)
    )
    if locked is None:
        raise chat_not_found()


async def list_chats(
    session: AsyncSession, user_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Chat], str | None]:
    """The user's chats, most recently active first."""
    query = select(Chat).where(Chat.user_id == user_id)
    if cursor is not None:
        updated_at, chat_id = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID)
        query = query.where(tuple_(Chat.updated_at, Chat.id) < tuple_(updated_at, chat_id))
    query = query.order_by(Chat.updated_at.desc(), Chat.id.desc()).limit(limit + 1)
    chats = list(await session.scalars(query))
    if len(chats) <= limit:
        return chats, None
    last = chats[limit - 1]
    return chats[:limit], encode_cursor(last.updated_at.isoformat(), last.id)


async def rename_chat(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID, title: str
) -> Chat:
    chat = await get_chat(session, user_id, chat_id)
    chat.title = title
    chat.updated_at = datetime.now(UTC)
    await session.commit()
    return chat


async def delete_chat(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID, context: RequestContext
) -> None:
    result = await session.execute(delete(Chat).where(Chat.id == chat_id, Chat.user_id == user_id))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise chat_not_found()
    audit.record(session, context, actor=user_id, action="chat.deleted", target=f"chat:{chat_id}")
    await session.commit()

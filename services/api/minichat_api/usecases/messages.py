"""Messages of a chat, in the order they were posted, with a cursor that survives new arrivals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.db.base import new_id
from minichat.db.models import Chat, Message
from minichat.statuses import FinishReason, MessageRole, MessageStatus
from minichat_api.pagination import decode_cursor, encode_cursor, sequence_number
from minichat_api.usecases.chats import chat_not_found, get_chat


async def list_messages(
    session: AsyncSession,
    user_id: uuid.UUID,
    chat_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Message], str | None]:
    """Oldest to newest. The cursor is the last sequence number seen, so later pages only grow."""
    await get_chat(session, user_id, chat_id)
    query = select(Message).where(Message.chat_id == chat_id)
    if cursor is not None:
        (after_seq,) = decode_cursor(cursor, sequence_number)
        query = query.where(Message.seq > after_seq)
    messages = list(await session.scalars(query.order_by(Message.seq).limit(limit + 1)))
    if len(messages) <= limit:
        return messages, None
    return messages[:limit], encode_cursor(messages[limit - 1].seq)


async def append_message(
    session: AsyncSession,
    user_id: uuid.UUID,
    chat_id: uuid.UUID,
    *,
    role: MessageRole,
    content: str,
    status: MessageStatus = MessageStatus.COMPLETE,
    message_id: uuid.UUID | None = None,
    finish_reason: FinishReason | None = None,
) -> Message:
    """Add a message at the end of the chat; the caller commits."""
    now = datetime.now(UTC)
    # Row lock on the chat until commit: sequence numbers commit in order, per chat.
    seq = await session.scalar(
        update(Chat)
        .where(Chat.id == chat_id, Chat.user_id == user_id)
        .values(last_message_seq=Chat.last_message_seq + 1, updated_at=now)
        .returning(Chat.last_message_seq)
    )
    if seq is None:
        raise chat_not_found()
    message = Message(
        id=message_id or new_id(),
        chat_id=chat_id,
        seq=seq,
        role=role,
        content=content,
        status=status,
        finish_reason=finish_reason,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    return message


async def post_user_message(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID, content: str
) -> Message:
    message = await append_message(
        session, user_id, chat_id, role=MessageRole.USER, content=content
    )
    await session.commit()
    return message

"""The prompt of a generation: the chat's history up to the user's message, within a budget."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.db.models import Generation, Message
from minichat_api.upstream import ChatTurn

_MAX_HISTORY_MESSAGES = 200


async def build_prompt(
    session: AsyncSession, generation: Generation, budget_chars: int
) -> list[ChatTurn]:
    """Newest messages first until the budget is spent; the user's message always fits."""
    user_message = (
        await session.get(Message, generation.user_message_id)
        if generation.user_message_id
        else None
    )
    if user_message is None:
        return []
    history = await session.scalars(
        select(Message)
        .where(Message.chat_id == generation.chat_id, Message.seq <= user_message.seq)
        .order_by(Message.seq.desc())
        .limit(_MAX_HISTORY_MESSAGES)
    )
    turns: list[ChatTurn] = []
    spent = 0
    for message in history:
        if not message.content:
            continue
        if turns and spent + len(message.content) > budget_chars:
            break
        # The user's own message is kept even when it alone is over budget: its end matters most.
        content = message.content if turns else message.content[-budget_chars:]
        turns.append(ChatTurn(message.role, content))
        spent += len(content)
    turns.reverse()
    return turns

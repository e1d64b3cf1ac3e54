"""The prompt of a generation: the chat's history up to the user's message, within a budget."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.db.models import Generation, Message
from minichat_api.generation.upstream import ChatTurn

MAX_HISTORY_MESSAGES = 200
# For a prompt whose answer ended before the model reported its count: about 4 characters a
# token in the BPE vocabularies of current models, and a few tokens of chat template per turn.
_CHARS_PER_TOKEN = 4
_TOKENS_PER_TURN = 4


async def build_prompt(
    session: AsyncSession, generation: Generation, budget_chars: int
) -> list[ChatTurn]:
    """Newest messages first until the budget is spent; the user's message always fits."""
    if generation.user_message_id is None:
        return []
    user_seq = select(Message.seq).where(Message.id == generation.user_message_id).scalar_subquery()
    history = await session.execute(
        select(Message.role, Message.content)
        .where(Message.chat_id == generation.chat_id, Message.seq <= user_seq)
        .order_by(Message.seq.desc())
        .limit(MAX_HISTORY_MESSAGES)
    )
    return prompt_from(history.all(), budget_chars)


def prompt_from(history: Iterable[tuple[str, str | None]], budget_chars: int) -> list[ChatTurn]:
    """The prompt from `(role, content)` pairs, newest first, starting at the user's message."""
    turns: list[ChatTurn] = []
    spent = 0
    for role, text in history:
        if not text:
            continue
        if turns and spent + len(text) > budget_chars:
            break
        # The user's own message is kept even when it alone is over budget: its end matters most.
        content = text if turns else text[-budget_chars:]
        turns.append(ChatTurn(role, content))
        spent += len(content)
    turns.reverse()
    return turns


def estimated_tokens(turns: Sequence[ChatTurn]) -> int:
    """An estimate of the tokens `turns` take, where the model did not say (a canceled or
    failed answer ends before its usage chunk)."""
    return sum(math.ceil(len(t.content) / _CHARS_PER_TOKEN) + _TOKENS_PER_TURN for t in turns)

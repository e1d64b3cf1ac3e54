"""Generations: creation (idempotent), lookup, cancel, and the guarded state transitions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.contracts.events import UsageEvent
from minichat.db.base import new_id, utcnow
from minichat.db.models import Chat, Generation, Message
from minichat.errors import Conflict, NotFound
from minichat.outbox import add_event
from minichat.statuses import (
    GenerationStatus,
    MessageRole,
    MessageStatus,
    sources_of,
)
from minichat_api.generation.prompt import MAX_HISTORY_MESSAGES
from minichat_api.streams import GenerationStreams
from minichat_api.streams.closing import final_events
from minichat_api.usecases import audit
from minichat_api.usecases.audit import RequestContext
from minichat_api.usecases.chats import chat_not_found
from minichat_api.usecases.messages import append_message

ACTIVE = (GenerationStatus.QUEUED, GenerationStatus.STREAMING)


def generation_not_found() -> NotFound:
    return NotFound("generation not found", code="generation_not_found")


async def create_generation(
    session: AsyncSession,
    user_id: uuid.UUID,
    chat_id: uuid.UUID,
    *,
    model: str,
    runner_id: str,
    idempotency_key: str | None,
) -> tuple[Generation, list[tuple[str, str | None]] | None]:
    """A queued generation answering the chat's last user message, and the chat's history up
    to that message (`(role, content)`, newest first), or None for an earlier request's.

    A created one is only added to the session, not yet written: the caller may start the
    model on the history first, then `save_generation`."""
    earlier = await _earlier_request(session, user_id, chat_id, idempotency_key)
    if earlier is not None:
        return earlier, None
    rows = (
        await session.execute(_creation_query(), {"chat_id": chat_id, "user_id": user_id})
    ).all()
    if not rows:
        raise chat_not_found()
    active_id: uuid.UUID | None = rows[0][0]
    if active_id is not None:
        # A retry of the same request may arrive while the first is being committed.
        earlier = await _earlier_request(session, user_id, chat_id, idempotency_key)
        if earlier is not None:
            return earlier, None
        raise _in_progress(active_id)
    user_message_id: uuid.UUID | None = rows[0][1]
    if user_message_id is None:
        raise Conflict("post a message before asking for an answer", code="no_user_message")
    generation = Generation(
        id=new_id(),
        chat_id=chat_id,
        user_id=user_id,
        model=model,
        idempotency_key=idempotency_key,
        user_message_id=user_message_id,
        runner_id=runner_id,
        # Set here, not left to the insert's defaults: the 202 is built before the insert.
        status=GenerationStatus.QUEUED,
        created_at=utcnow(),
    )
    session.add(generation)
    return generation, [(row[2], row[3]) for row in rows]


@cache
def _creation_query() -> Select[uuid.UUID, uuid.UUID, str, str]:
    """One round trip: is the chat ours, is an answer already running, and its history up to
    the last user message (later assistant messages are earlier answers to it).

    Built once, with `chat_id` and `user_id` bound per call: building it took longer than
    running it, on the path to every answer's first token."""
    chat_id: BindParameter[uuid.UUID] = bindparam("chat_id")
    user_id: BindParameter[uuid.UUID] = bindparam("user_id")
    active = _running_in(chat_id).limit(1).scalar_subquery()
    last_user_seq = (
        select(func.max(Message.seq))
        .where(Message.chat_id == chat_id, Message.role == MessageRole.USER)
        .scalar_subquery()
    )
    return (
        select(active, Message.id, Message.role, Message.content)
        .select_from(Chat)
        .outerjoin(Message, and_(Message.chat_id == Chat.id, Message.seq <= last_user_seq))
        .where(Chat.id == chat_id, Chat.user_id == user_id)
        .order_by(Message.seq.desc())
        .limit(MAX_HISTORY_MESSAGES)
    )


def _running_in(chat_id: uuid.UUID | BindParameter[uuid.UUID]) -> Select[uuid.UUID]:
    """The generations of a chat still queued or streaming (one at most, by a unique index)."""
    return select(Generation.id).where(Generation.chat_id == chat_id, Generation.status.in_(ACTIVE))


def _in_progress(generation_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"generation {generation_id} is still running in this chat; cancel it or wait",
        code="generation_in_progress",
        details={"generation_id": str(generation_id)},
    )


async def save_generation(
    session: AsyncSession, generation: Generation, *, start_streaming: bool = False
) -> Generation | None:
    """Commit a generation from `create_generation`. None when saved; else the generation of a
    request with the same Idempotency-Key that won the race, which answers this one too. A 409
    (`generation_in_progress`) if another create for the chat committed first.

    `start_streaming`: its runner already holds a slot for it, so the row is written already
    streaming: nobody could see it queued before this commit, and the runner is spared a
    transaction of its own to claim it."""
    if start_streaming:
        generation.status = GenerationStatus.STREAMING
        generation.started_at = datetime.now(UTC)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        earlier = await _earlier_request(
            session, generation.user_id, generation.chat_id, generation.idempotency_key
        )
        if earlier is not None:
            return earlier
        # Another create for this chat committed first (one answer runs per chat).
        running = await session.scalar(_running_in(generation.chat_id).limit(1))
        if running is None:
            raise
        raise _in_progress(running) from None
    return None


async def _earlier_request(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID, key: str | None
) -> Generation | None:
    """The generation an earlier request with this Idempotency-Key created, if any."""
    if key is None:
        return None
    existing = await _by_idempotency_key(session, user_id, key)
    return None if existing is None else _same_request(existing, chat_id)


def _same_request(generation: Generation, chat_id: uuid.UUID) -> Generation:
    if generation.chat_id != chat_id:
        raise Conflict(
            "this Idempotency-Key was already used for another chat",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return generation


async def _by_idempotency_key(
    session: AsyncSession, user_id: uuid.UUID, key: str
) -> Generation | None:
    return await session.scalar(
        select(Generation).where(Generation.user_id == user_id, Generation.idempotency_key == key)
    )


async def get_generation(
    session: AsyncSession, user_id: uuid.UUID, generation_id: uuid.UUID
) -> Generation:
    generation = await session.scalar(
        select(Generation).where(Generation.id == generation_id, Generation.user_id == user_id)
    )
    if generation is None:
        raise generation_not_found()
    return generation


async def transition(
    session: AsyncSession,
    generation_id: uuid.UUID,
    target: GenerationStatus,
    *,
    runner_id: str | None = None,
    only_from: frozenset[GenerationStatus] | None = None,
    **values: Any,
) -> Generation | None:
    """Move to `target` if the current state allows it (and, if given, we own it); else None.

    The one guarded UPDATE through which every state change goes: two processes racing for
    the same generation cannot both win.
    """
    sources = sources_of(target) & only_from if only_from is not None else sources_of(target)
    query = (
        update(Generation)
        .where(Generation.id == generation_id, Generation.status.in_(sources))
        .values(status=target, **values)
        .returning(Generation)
    )
    if runner_id is not None:
        query = query.where(Generation.runner_id == runner_id)
    return await session.scalar(
        query, execution_options={"synchronize_session": False, "populate_existing": True}
    )


async def finish(
    session: AsyncSession,
    generation_id: uuid.UUID,
    status: GenerationStatus,
    *,
    runner_id: str | None,
    text: str,
    prompt_tokens: int,
    completion_tokens: int,
    ttft_ms: float | None,
    error_code: str | None = None,
    error_message: str | None = None,
    context: RequestContext | None = None,
    only_from: frozenset[GenerationStatus] | None = None,
) -> Generation | None:
    """The terminal transition with everything that goes with it, in the caller's transaction:
    the assistant message, usage, and the usage and audit events. None if it lost the race."""
    now = datetime.now(UTC)
    # Named by the final UPDATE itself, written just after (the key is checked at commit).
    message_id = new_id() if text else None
    generation = await transition(
        session,
        generation_id,
        status,
        runner_id=runner_id,
        only_from=only_from,
        assistant_message_id=message_id,
        finished_at=now,
        partial_text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        ttft_ms=ttft_ms,
        error_code=error_code,
        error_message=error_message,
    )
    if generation is None:
        return None
    if message_id is not None:
        await append_message(
            session,
            generation.user_id,
            generation.chat_id,
            role=MessageRole.ASSISTANT,
            content=text,
            status=(
                MessageStatus.COMPLETE
                if status == GenerationStatus.SUCCEEDED
                else MessageStatus.INCOMPLETE
            ),
            message_id=message_id,
        )
    started = generation.started_at or generation.created_at
    add_event(
        session,
        UsageEvent(
            user_id=generation.user_id,
            chat_id=generation.chat_id,
            generation_id=generation.id,
            model=generation.model,
            status=status,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            ttft_ms=ttft_ms,
            duration_ms=max(0.0, (now - started).total_seconds() * 1000),
            traceparent=context.traceparent if context else None,
        ),
    )
    if status == GenerationStatus.CANCELED:
        audit.record(
            session,
            context or RequestContext(client="runner"),
            actor=generation.user_id,
            action="generation.canceled",
            target=f"generation:{generation.id}",
        )
    return generation


async def refuse_while_answering(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID
) -> None:
    """409 `generation_in_progress` while an answer is being written in the chat: a message
    posted now would sort before that answer, which answers the message before it."""
    running = await active_in_chat(session, user_id, chat_id)
    if running:
        raise _in_progress(running[0])


async def active_in_chat(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID
) -> list[uuid.UUID]:
    return list(await session.scalars(_running_in(chat_id).where(Generation.user_id == user_id)))


async def end_deleted(streams: GenerationStreams, generation_ids: Sequence[uuid.UUID]) -> None:
    """Generations deleted with their chat while running: their model stops, and their
    streams' followers get the `done` that no runner can write any more (its row is gone)."""
    for generation_id in generation_ids:
        await streams.request_cancel(generation_id)
        await streams.append(generation_id, final_events(GenerationStatus.CANCELED, None, 0, 0))


async def active_generations(
    session: AsyncSession, *, excluding_runner: str, limit: int = 200
) -> Sequence[tuple[uuid.UUID, str | None]]:
    rows = await session.execute(
        select(Generation.id, Generation.runner_id)
        .where(Generation.status.in_(ACTIVE), Generation.runner_id != excluding_runner)
        .order_by(Generation.created_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


async def stranded_generations(
    session: AsyncSession, *, runner_id: str, quiet_since: datetime, limit: int = 200
) -> Sequence[tuple[uuid.UUID, GenerationStatus]]:
    """Generations of `runner_id` that nothing has moved since `quiet_since`: still queued, or
    streaming with no checkpoint since. Those its runner is running are merely slow."""
    rows = await session.execute(
        select(Generation.id, Generation.status)
        .where(
            Generation.runner_id == runner_id,
            or_(
                and_(
                    Generation.status == GenerationStatus.QUEUED,
                    Generation.created_at < quiet_since,
                ),
                and_(
                    Generation.status == GenerationStatus.STREAMING,
                    func.coalesce(
                        Generation.checkpointed_at, Generation.started_at, Generation.created_at
                    )
                    < quiet_since,
                ),
            ),
        )
        .order_by(Generation.created_at)
        .limit(limit)
    )
    return [(row[0], GenerationStatus(row[1])) for row in rows]


async def cancel_generation(
    session: AsyncSession,
    streams: GenerationStreams,
    user_id: uuid.UUID,
    generation_id: uuid.UUID,
    context: RequestContext,
    *,
    wait_seconds: float = 2.0,
) -> Generation:
    """Ask for the generation to stop; answers its state once final, or after `wait_seconds`.

    A queued generation is canceled here. A streaming one is stopped by the process that runs
    it, which alone writes its end: the database and the stream's `done` always agree.
    """
    generation = await get_generation(session, user_id, generation_id)
    if GenerationStatus(generation.status).is_terminal:
        return generation
    await streams.request_cancel(generation_id)
    canceled = await finish(
        session,
        generation_id,
        GenerationStatus.CANCELED,
        runner_id=None,
        text="",
        prompt_tokens=0,
        completion_tokens=0,
        ttft_ms=None,
        context=context,
        only_from=frozenset({GenerationStatus.QUEUED}),
    )
    await session.commit()
    if canceled is not None:
        await streams.append(generation_id, final_events(GenerationStatus.CANCELED, None, 0, 0))
        return canceled
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        current = await session.scalar(
            select(Generation)
            .where(Generation.id == generation_id)
            .execution_options(populate_existing=True)
        )
        await session.commit()
        assert current is not None
        if GenerationStatus(current.status).is_terminal:
            return current
        if asyncio.get_running_loop().time() >= deadline:
            return current
        await asyncio.sleep(0.02)

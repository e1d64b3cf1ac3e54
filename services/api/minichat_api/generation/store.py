"""The one owner of SQL on `generations`: lookups, the guarded state transitions, checkpoints
and endings, each in the caller's session (the caller commits)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat import tracing
from minichat.contracts.events import UsageEvent
from minichat.db.base import new_id, utcnow
from minichat.db.models import Chat, Generation, Message
from minichat.errors import Conflict, NotFound
from minichat.outbox import add_event
from minichat.statuses import (
    FinishReason,
    GenerationStatus,
    MessageRole,
    MessageStatus,
    sources_of,
)
from minichat_api.generation.progress import Progress
from minichat_api.generation.prompt import MAX_HISTORY_MESSAGES
from minichat_api.streams.closing import Ending
from minichat_api.usecases import audit
from minichat_api.usecases.audit import RequestContext
from minichat_api.usecases.messages import append_message

ACTIVE = (GenerationStatus.QUEUED, GenerationStatus.STREAMING)
_EXISTING = {"synchronize_session": False, "populate_existing": True}


def generation_not_found() -> NotFound:
    return NotFound("generation not found", code="generation_not_found")


def in_progress(generation_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"generation {generation_id} is still running in this chat; cancel it or wait",
        code="generation_in_progress",
        details={"generation_id": str(generation_id)},
    )


# --- Lookups -------------------------------------------------------------------------------


async def creation_rows(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID
) -> Sequence[Any]:
    """Rows of `(running generation id, message id, role, content)`, newest message first; none
    when the chat is not the user's."""
    result = await session.execute(_creation_query(), {"chat_id": chat_id, "user_id": user_id})
    return result.all()


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


async def running_in_chat(
    session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    query = _running_in(chat_id)
    if user_id is not None:
        query = query.where(Generation.user_id == user_id)
    return list(await session.scalars(query))


async def active_count_of_user(session: AsyncSession, user_id: uuid.UUID) -> int:
    """How many of the user's generations are queued or streaming."""
    count = await session.scalar(
        select(func.count())
        .select_from(Generation)
        .where(Generation.user_id == user_id, Generation.status.in_(ACTIVE))
    )
    return int(count or 0)


async def by_idempotency_key(
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


async def generation_of_answer(
    session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID
) -> Generation | None:
    """The user's generation whose answer is the message `message_id`."""
    return await session.scalar(
        select(Generation).where(
            Generation.assistant_message_id == message_id, Generation.user_id == user_id
        )
    )


async def load(session: AsyncSession, generation_id: uuid.UUID) -> Generation | None:
    """The generation as the database has it now, whatever the session saw before."""
    return await session.scalar(
        select(Generation)
        .where(Generation.id == generation_id)
        .execution_options(populate_existing=True)
    )


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


class StoredEndings:
    """Finished generations as the database has them, for the SSE feed (`Endings`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def ending(self, generation_id: uuid.UUID) -> Ending | None:
        ended = await self._read(generation_id, with_text=False)
        return None if ended is None else ended[0]

    async def answer(self, generation_id: uuid.UUID) -> tuple[Ending, str] | None:
        return await self._read(generation_id, with_text=True)

    async def _read(
        self, generation_id: uuid.UUID, *, with_text: bool
    ) -> tuple[Ending, str] | None:
        async with self._sessions() as session:
            ended = (
                await session.execute(
                    select(
                        Generation.status,
                        Generation.error_code,
                        Generation.error_message,
                        Generation.prompt_tokens,
                        Generation.completion_tokens,
                        Generation.assistant_message_id,
                        Generation.finish_reason,
                    ).where(Generation.id == generation_id)
                )
            ).one_or_none()
            if ended is None or not GenerationStatus(ended.status).is_terminal:
                return None
            text = (
                await session.scalar(
                    select(Message.content).where(Message.id == ended.assistant_message_id)
                )
                if with_text and ended.assistant_message_id
                else None
            )
        error = (ended.error_code, ended.error_message or "") if ended.error_code else None
        ending = Ending(
            GenerationStatus(ended.status),
            error,
            ended.prompt_tokens or 0,
            ended.completion_tokens or 0,
            FinishReason(ended.finish_reason) if ended.finish_reason else None,
        )
        return ending, text or ""


# --- State changes -------------------------------------------------------------------------


def add_queued(
    session: AsyncSession,
    *,
    chat_id: uuid.UUID,
    user_id: uuid.UUID,
    model: str,
    idempotency_key: str | None,
    user_message_id: uuid.UUID,
    runner_id: str,
    continues: str = "",
) -> Generation:
    """A new generation, `queued`, added to the session: written when the caller commits.
    `continues`: the text of the answer it continues, its first checkpoint."""
    generation = Generation(
        id=new_id(),
        chat_id=chat_id,
        user_id=user_id,
        model=model,
        idempotency_key=idempotency_key,
        user_message_id=user_message_id,
        runner_id=runner_id,
        partial_text=continues,
        # Set here, not left to the insert's defaults: the answer is built from this object.
        status=GenerationStatus.QUEUED,
        created_at=utcnow(),
    )
    session.add(generation)
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
    return await session.scalar(query, execution_options=_EXISTING)


async def start_streaming(
    session: AsyncSession, generation_id: uuid.UUID, runner_id: str
) -> Generation | None:
    """queued -> streaming, if the generation is `runner_id`'s; else None."""
    return await transition(
        session,
        generation_id,
        GenerationStatus.STREAMING,
        runner_id=runner_id,
        started_at=datetime.now(UTC),
    )


async def adopt(
    session: AsyncSession, generation_id: uuid.UUID, *, previous_owner: str | None, runner_id: str
) -> Generation | None:
    """Take a running generation over from `previous_owner`, counting the adoption; None if a
    peer took it first (or it ended)."""
    return await session.scalar(
        update(Generation)
        .where(
            Generation.id == generation_id,
            Generation.status.in_(ACTIVE),
            Generation.runner_id == previous_owner,
        )
        .values(runner_id=runner_id, adoptions=Generation.adoptions + 1)
        .returning(Generation),
        execution_options=_EXISTING,
    )


async def request_cancel(session: AsyncSession, generation_id: uuid.UUID) -> None:
    """Record that the generation is to stop, where every runner will find it: at its start,
    at an adoption and at each checkpoint, however the cancel's broadcast fared."""
    await session.execute(
        update(Generation)
        .where(
            Generation.id == generation_id,
            Generation.status.in_(ACTIVE),
            Generation.cancel_requested_at.is_(None),
        )
        .values(cancel_requested_at=datetime.now(UTC)),
        execution_options={"synchronize_session": False},
    )


async def set_traceparent(
    session: AsyncSession, generation_id: uuid.UUID, traceparent: str | None
) -> None:
    """Store the trace context of the runner span that has the generation now."""
    await session.execute(
        update(Generation).where(Generation.id == generation_id).values(traceparent=traceparent),
        execution_options={"synchronize_session": False},
    )


async def cancels_requested(
    session: AsyncSession, generation_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of `generation_ids` whose cancel was requested."""
    if not generation_ids:
        return set()
    return set(
        await session.scalars(
            select(Generation.id).where(
                Generation.id.in_(generation_ids), Generation.cancel_requested_at.is_not(None)
            )
        )
    )


async def save_checkpoints(
    session: AsyncSession, runner_id: str, checkpoints: Mapping[uuid.UUID, Progress]
) -> set[uuid.UUID]:
    """One UPDATE for all of `checkpoints`, guarded like the state machine: a generation counts
    only while it is `runner_id`'s and streaming. Answers those that were."""
    held = and_(Generation.runner_id == runner_id, Generation.status == GenerationStatus.STREAMING)
    rows = [
        {"b_id": i, "b_text": p.text, "b_tokens": p.completion_tokens, "b_ttft": p.ttft_ms}
        for i, p in checkpoints.items()
    ]
    # The table, not the mapped class: executemany of a plain UPDATE, which the ORM would turn
    # into a bulk update by primary key, without our guard.
    result: Any = await session.execute(
        update(Generation.__table__)  # type: ignore[arg-type]
        .where(Generation.id == bindparam("b_id"), held)
        .values(
            partial_text=bindparam("b_text"),
            completion_tokens=bindparam("b_tokens"),
            ttft_ms=bindparam("b_ttft"),
            checkpointed_at=datetime.now(UTC),
        ),
        rows,
    )
    ids = set(checkpoints)
    if result.rowcount == len(ids):
        return ids
    return set(await session.scalars(select(Generation.id).where(Generation.id.in_(ids), held)))


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
    finish_reason: FinishReason | None = None,
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
        finish_reason=finish_reason,
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
            finish_reason=finish_reason,
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
            # The span ending it, so the event's trace is the generation's; else the request's.
            traceparent=tracing.traceparent() or (context.traceparent if context else None),
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

"""The handshakes between a request, the runner, the database and the stream: creating,
cancelling, and ending the generations of a deleted chat."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from minichat import tracing
from minichat.db.base import utcnow
from minichat.db.models import Generation, Message
from minichat.errors import Conflict
from minichat.statuses import FinishReason, GenerationStatus
from minichat_api import metrics
from minichat_api.generation import endings, spans, store
from minichat_api.generation.progress import Progress
from minichat_api.generation.prompt import prompt_from
from minichat_api.generation.runner import FreshStart, GenerationRunner
from minichat_api.streams import GenerationStreams, StreamEvent
from minichat_api.streams.closing import Ending
from minichat_api.usecases import chats, messages
from minichat_api.usecases.audit import RequestContext
from minichat_api.usecases.fair_use import FairUse

logger = logging.getLogger(__name__)


class GenerationService:
    """How a generation is created and canceled, step by step.

    Create (`POST /api/chats/{id}/generations`):
    1. A request whose Idempotency-Key was seen before answers that request's generation and
       goes no further. The chat's row is locked until the commit (as posting a message locks
       it), then one query checks that the chat is the caller's and no answer runs in it, and
       reads its history up to the last user message.
    2. The runner gets the prompt before the row is written (`FreshStart`), so the model
       computes the first token while the row commits. `start_fresh` returns once the model
       has been asked, or at once when no slot is free (the generation then waits, `queued`).
    3. Fair use: the user's answers already running are counted with the user's row locked, so
       creates racing in other chats wait for this commit; at the limit the create is a 429
       and the job stops, having written nothing.
    4. The row is committed, and `saved` tells the job how: `streaming` when its job already
       holds a slot (the commit is the claim; nobody could see it queued), `queued` when the
       job waits for one (it claims it itself), None when the commit failed. The job writes
       nothing, no delta and no end, before it knows.
    5. A unique index allows one running generation per chat: of two creates racing, the
       second commit fails; it answers the first's generation when both carried the same
       Idempotency-Key, else 409 `generation_in_progress`.
    A create that continues an answer the token limit cut (`continue_from`) is one more answer
    to the same message, which starts from that answer's text: its first checkpoint, so the
    model is asked to continue it and its stream begins with it, however the job is run.

    Cancel (`POST /api/generations/{id}/cancel`):
    1. A queued generation is canceled right here, by the same guarded UPDATE as every other
       transition, and its stream gets its closing events.
    2. A streaming one gets `cancel_requested_at`, committed before anything else happens: a
       runner that starts, adopts or checkpoints it from then on finds it there, so no cancel
       is lost to a missed broadcast or a restarted Redis.
    3. The cancel is broadcast in the streams, and the process that runs the generation stops
       it at once. That process alone writes its end, so the database and the stream's `done`
       always agree; the request follows the stream for up to `wait_seconds`, until that
       `done`, then answers the state the database has (404 if the chat was deleted
       meanwhile).
    """

    def __init__(
        self,
        runner: GenerationRunner,
        streams: GenerationStreams,
        fair_use: FairUse,
        *,
        context_chars: int,
    ) -> None:
        self._runner = runner
        self._streams = streams
        self._fair_use = fair_use
        self._context_chars = context_chars

    async def create(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        chat_id: uuid.UUID,
        *,
        model: str,
        idempotency_key: str | None,
        continue_from: uuid.UUID | None = None,
    ) -> Generation:
        """The chat's new generation answering its last user message, or an earlier request's;
        with `continue_from` (an answer's message id), one that continues that answer."""
        with spans.TRACER.start_as_current_span("generation.create") as span:
            generation = await self._create(
                session,
                user_id,
                chat_id,
                model=model,
                idempotency_key=idempotency_key,
                continue_from=continue_from,
            )
            span.set_attribute(spans.GENERATION_ID, str(generation.id))
            return generation

    async def _create(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        chat_id: uuid.UUID,
        *,
        model: str,
        idempotency_key: str | None,
        continue_from: uuid.UUID | None,
    ) -> Generation:
        earlier = await _earlier_request(session, user_id, chat_id, idempotency_key)
        if earlier is not None:
            return earlier
        # Its own statement, before the history is read: a message committed while the lock
        # was awaited is then in the history this answer answers.
        await chats.lock_chat(session, user_id, chat_id)
        rows = await store.creation_rows(session, user_id, chat_id)
        if not rows:
            raise chats.chat_not_found()
        active_id: uuid.UUID | None = rows[0][0]
        if active_id is not None:
            # A retry of the same request may arrive while the first is being committed.
            earlier = await _earlier_request(session, user_id, chat_id, idempotency_key)
            if earlier is not None:
                return earlier
            raise store.in_progress(active_id)
        user_message_id: uuid.UUID | None = rows[0][1]
        if user_message_id is None:
            raise Conflict("post a message before asking for an answer", code="no_user_message")
        continued = ""
        if continue_from is not None:
            continued = await _continuable_text(session, user_id, continue_from, user_message_id)
        generation = store.add_queued(
            session,
            chat_id=chat_id,
            user_id=user_id,
            model=model,
            idempotency_key=idempotency_key,
            user_message_id=user_message_id,
            runner_id=self._runner.runner_id,
            continues=continued,
        )
        prompt = prompt_from(((row[2], row[3]) for row in rows), self._context_chars)
        run = spans.start_run(generation.id, self._runner.runner_id)
        generation.traceparent = tracing.traceparent(run)
        saved: asyncio.Future[GenerationStatus | None] = asyncio.get_running_loop().create_future()
        saved_as: GenerationStatus | None = None
        try:
            fresh = FreshStart(
                user_id, prompt, model, saved, resume=Progress(text=continued), span=run
            )
            await self._runner.start_fresh(generation.id, fresh)
            # Last before the commit: the user's row is locked for the count only as long as
            # the commit takes, not while the model is asked (a refusal stops the job).
            with session.no_autoflush:
                await self._fair_use.check_answer(session, user_id)
            in_slot = self._runner.running_here_for(generation.id) is not None
            winner = await _save(session, generation, start_streaming=in_slot)
            if winner is not None:
                return winner
            saved_as = GenerationStatus(generation.status)
            metrics.GENERATIONS_STARTED.inc()
        finally:
            saved.set_result(saved_as)
        return generation

    async def cancel(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        generation_id: uuid.UUID,
        context: RequestContext,
        *,
        wait_seconds: float = 2.0,
    ) -> Generation:
        """Ask for the generation to stop; answers its state once final, or after
        `wait_seconds`."""
        generation = await store.get_generation(session, user_id, generation_id)
        if GenerationStatus(generation.status).is_terminal:
            return generation
        canceled = await store.finish(
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
        if canceled is None:
            await store.request_cancel(session, generation_id)
        await session.commit()
        await self._streams.request_cancel(generation_id)
        if canceled is not None:
            await self._streams.append(generation_id, Ending(GenerationStatus.CANCELED).events())
            return canceled
        await self._until_done(generation_id, wait_seconds)
        current = await store.load(session, generation_id)
        await session.commit()
        if current is None:  # deleted with its chat meanwhile
            raise store.generation_not_found()
        return current

    async def _until_done(self, generation_id: uuid.UUID, seconds: float) -> None:
        """Wait up to `seconds` for the stream's `done`, which its runner writes once the end
        is committed (as does a chat's deletion)."""
        follower: AsyncIterator[list[StreamEvent]] | None = None
        try:
            async with asyncio.timeout(seconds):
                newest = await self._streams.last_event(generation_id)
                if newest is not None and newest.event == "done":
                    return
                after = newest.id if newest is not None else None
                follower = self._streams.follow(generation_id, after, idle_seconds=seconds)
                async for batch in follower:
                    if any(event.event == "done" for event in batch):
                        return
        except TimeoutError:
            return
        except Exception as exc:  # the answer is the state the database has now
            logger.warning("generation %s: cannot wait for its end: %r", generation_id, exc)
        finally:
            if isinstance(follower, AsyncGenerator):
                await follower.aclose()

    async def delete_chat(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        chat_id: uuid.UUID,
        context: RequestContext,
    ) -> None:
        """Delete a chat, stopping the answer it may be running. That answer is canceled first,
        so its end, usage event included, is written with the tokens it spent: by its runner
        when it stops within the cancel's wait, else here, with its last checkpoint's count."""
        for generation_id in await store.running_in_chat(session, chat_id, user_id):
            await self.cancel(session, user_id, generation_id, context)
        # With the chat row locked, a create racing this deletion has either committed (and
        # is ended here) or will find no chat.
        await chats.lock_chat(session, user_id, chat_id)
        unended = await endings.cancel_for_deletion(session, chat_id, context)
        await chats.delete_chat(session, user_id, chat_id, context)
        await endings.end_deleted(self._streams, unended)


async def post_message(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID, content: str
) -> Message:
    """A user message at the end of the chat; 409 `generation_in_progress` while an answer is
    being written there: the message would sort before that answer, which answers the message
    before it. The chat row is locked first, as a create locks it, so of a message and a
    create racing, either the answer answers the message or the message is refused."""
    await chats.lock_chat(session, user_id, chat_id)
    running = await store.running_in_chat(session, chat_id, user_id)
    if running:
        raise store.in_progress(running[0])
    return await messages.post_user_message(session, user_id, chat_id, content)


async def _save(
    session: AsyncSession, generation: Generation, *, start_streaming: bool
) -> Generation | None:
    """Commit a new generation. None when saved; else the generation of a request with the
    same Idempotency-Key that won the race, which answers this one too. A 409
    (`generation_in_progress`) if another create for the chat committed first.

    `start_streaming`: its runner already holds a slot for it, so the row is written already
    streaming: nobody could see it queued before this commit, and the runner is spared a
    transaction of its own to claim it."""
    if start_streaming:
        generation.status = GenerationStatus.STREAMING
        generation.started_at = utcnow()
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
        running = await store.running_in_chat(session, generation.chat_id)
        if not running:
            raise
        raise store.in_progress(running[0]) from None
    return None


async def _earlier_request(
    session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID, key: str | None
) -> Generation | None:
    """The generation an earlier request with this Idempotency-Key created, if any."""
    if key is None:
        return None
    existing = await store.by_idempotency_key(session, user_id, key)
    if existing is None:
        return None
    if existing.chat_id != chat_id:
        raise Conflict(
            "this Idempotency-Key was already used for another chat",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return existing


async def _continuable_text(
    session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID, answering: uuid.UUID
) -> str:
    """The text of the answer to continue: one the token limit cut, to the chat's last
    message (`answering`); a 409 `not_continuable` otherwise."""
    cut = await store.generation_of_answer(session, user_id, message_id)
    if cut is None or cut.user_message_id != answering or cut.finish_reason != FinishReason.LENGTH:
        raise Conflict(
            "only an answer to the last message that the token limit cut can be continued",
            code="not_continuable",
        )
    return cut.partial_text

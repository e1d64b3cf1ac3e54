"""How a generation's end is written: committed to the database first, then told to its stream."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.statuses import FinishReason, GenerationStatus
from minichat_api import metrics
from minichat_api.generation import spans, store
from minichat_api.streams import GenerationStreams
from minichat_api.streams.closing import Ending
from minichat_api.usecases.audit import RequestContext


async def record_end(
    sessions: async_sessionmaker[AsyncSession],
    streams: GenerationStreams,
    generation_id: uuid.UUID,
    status: GenerationStatus,
    *,
    runner_id: str,
    text: str,
    prompt_tokens: int,
    completion_tokens: int,
    ttft_ms: float | None,
    error: tuple[str, str] | None,
    finish_reason: FinishReason | None = None,
) -> bool:
    """A runner's end of a generation: the final state and all that goes with it, committed,
    then the closing stream events. False if another process had already decided the end."""
    attributes = {spans.STATE: status.value}
    with spans.TRACER.start_as_current_span("generation.finish", attributes=attributes):
        async with sessions() as session:
            finished = await store.finish(
                session,
                generation_id,
                status,
                runner_id=runner_id,
                text=text,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                ttft_ms=ttft_ms,
                error_code=error[0] if error else None,
                error_message=error[1] if error else None,
                finish_reason=finish_reason,
            )
            await session.commit()
        if finished is None:
            return False
        metrics.GENERATIONS_FINISHED.labels(status=status.value).inc()
        ending = Ending(status, error, prompt_tokens, completion_tokens, finish_reason)
        await streams.append(generation_id, ending.events())
        return True


async def cancel_for_deletion(
    session: AsyncSession, chat_id: uuid.UUID, context: RequestContext
) -> dict[uuid.UUID, Ending]:
    """In the transaction that deletes the chat: its generations still running end canceled,
    with their usage event, counting the tokens of their last checkpoint (their runner did not
    end them in time, and will find nothing left to end)."""
    ended: dict[uuid.UUID, Ending] = {}
    for generation_id in await store.running_in_chat(session, chat_id):
        generation = await store.load(session, generation_id)
        if generation is None:
            continue
        ending = Ending(
            GenerationStatus.CANCELED,
            prompt_tokens=generation.prompt_tokens or 0,
            completion_tokens=generation.completion_tokens or 0,
        )
        finished = await store.finish(
            session,
            generation_id,
            ending.status,
            runner_id=None,
            text="",  # its message would go with the chat
            prompt_tokens=ending.prompt_tokens,
            completion_tokens=ending.completion_tokens,
            ttft_ms=generation.ttft_ms,
            context=context,
        )
        if finished is not None:
            ended[generation_id] = ending
    return ended


async def end_deleted(streams: GenerationStreams, ended: Mapping[uuid.UUID, Ending]) -> None:
    """Generations ended with their deleted chat: their model stops, and their streams'
    followers get the closing events that no runner can write any more (its row is gone)."""
    for generation_id, ending in ended.items():
        await streams.request_cancel(generation_id)
        await streams.append(generation_id, ending.events())

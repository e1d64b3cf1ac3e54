"""How a generation's end is written: committed to the database first, then told to its stream."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.statuses import GenerationStatus
from minichat_api import metrics
from minichat_api.generation import store
from minichat_api.streams import GenerationStreams
from minichat_api.streams.closing import Ending


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
) -> bool:
    """A runner's end of a generation: the final state and all that goes with it, committed,
    then the closing stream events. False if another process had already decided the end."""
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
        )
        await session.commit()
    if finished is None:
        return False
    metrics.GENERATIONS_FINISHED.labels(status=status.value).inc()
    ending = Ending(status, error, prompt_tokens, completion_tokens)
    await streams.append(generation_id, ending.events())
    return True


async def end_deleted(streams: GenerationStreams, generation_ids: Sequence[uuid.UUID]) -> None:
    """Generations deleted with their chat while running: their model stops, and their
    streams' followers get the `done` that no runner can write any more (its row is gone)."""
    for generation_id in generation_ids:
        await streams.request_cancel(generation_id)
        await streams.append(generation_id, Ending(GenerationStatus.CANCELED).events())

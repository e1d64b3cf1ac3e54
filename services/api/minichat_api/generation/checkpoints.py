"""The partial text of every generation this process streams, saved together.

A transaction per generation per checkpoint would cost hundreds of transactions a second with
hundreds of generations streaming. Here one round writes every generation that has new text,
in one statement, once a checkpoint interval has passed or as soon as one of them has
`every_tokens` unsaved tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Protocol

from opentelemetry.trace import Span
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat_api.generation import spans, store
from minichat_api.generation.progress import Progress

logger = logging.getLogger(__name__)


class Checkpointed(Protocol):
    """A running generation, as the checkpointer sees it."""

    generation_id: uuid.UUID
    # Its runner's span (spans.start_run), which each checkpoint of it is told to.
    span: Span

    def take_progress(self) -> Progress:
        """What it has streamed; its count of unsaved tokens starts again from here."""
        ...

    def lost(self) -> None:
        """Another process owns the generation now (or it has ended): stop writing."""
        ...

    def canceled(self) -> None: ...


class Checkpointer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        running: Mapping[uuid.UUID, Checkpointed],
        runner_id: str,
        every_tokens: int,
        interval_s: float,
    ) -> None:
        self._sessions = sessions
        self._runner_id = runner_id
        self._every_tokens = every_tokens
        self._interval_s = interval_s
        # The runner's own map of the job running each generation here.
        self._running = running
        self._unsaved: dict[uuid.UUID, Checkpointed] = {}
        self._urgent = asyncio.Event()

    def streamed(self, job: Checkpointed, unsaved_tokens: int) -> None:
        """`job` has text not yet saved; with `every_tokens` of it, save without waiting."""
        self._unsaved[job.generation_id] = job
        if unsaved_tokens >= self._every_tokens:
            self._urgent.set()

    def forget(self, generation_id: uuid.UUID) -> None:
        """The generation ended here (its end wrote the text): nothing more to save."""
        self._unsaved.pop(generation_id, None)

    async def round(self) -> None:
        """Wait for the interval (or an urgent save), then save everything unsaved."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._urgent.wait(), self._interval_s)
        self._urgent.clear()
        jobs, self._unsaved = list(self._unsaved.values()), {}
        if not jobs:
            return
        try:
            await self._save(jobs)
        except (DataError, IntegrityError) as exc:
            # Text the database refuses (a NUL byte, say) must not stop everyone's checkpoints.
            logger.warning("checkpoints: %r; saving these %d one by one", exc, len(jobs))
            for position, job in enumerate(jobs):
                try:
                    await self._save([job])
                except (DataError, IntegrityError) as refused:
                    logger.warning(
                        "generation %s: checkpoint refused: %r", job.generation_id, refused
                    )
                except BaseException:
                    self._save_later(jobs[position:])
                    raise
        except BaseException:
            self._save_later(jobs)
            raise

    def _save_later(self, jobs: list[Checkpointed]) -> None:
        """Back into the next round, those still running here (not those that ended since)."""
        for job in jobs:
            if self._running.get(job.generation_id) is job:
                self._unsaved.setdefault(job.generation_id, job)

    async def _save(self, jobs: list[Checkpointed]) -> None:
        """Save `jobs`' text; those no longer this runner's to write stop writing."""
        progress = {job.generation_id: job.take_progress() for job in jobs}
        with spans.checkpoint(jobs, progress):
            async with self._sessions() as session:
                held = await store.save_checkpoints(session, self._runner_id, progress)
                canceled = await store.cancels_requested(session, list(held))
                await session.commit()
        for job in jobs:
            if job.generation_id not in held:
                job.lost()
            elif job.generation_id in canceled:
                # The cancel's broadcast went astray (a dropped subscription, a restarted
                # Redis); the database still has the request.
                job.canceled()

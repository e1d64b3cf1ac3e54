"""The checkpointer on SQLite: one statement saves every generation with new text; a round
stops the generations it finds lost or canceled; text the database refuses stops no other
save; after a failed round, the next saves what is still running here."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import INVALID_SPAN, Span
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from minichat.statuses import GenerationStatus
from minichat_api.generation.checkpoints import Checkpointed, Checkpointer
from minichat_api.generation.progress import Progress
from tests.unit.generation.conftest import RUNNER, Rows


@dataclass(eq=False)
class Job:
    """A running generation as the checkpointer sees it, recording what it was told."""

    generation_id: uuid.UUID
    text: str
    tokens: int = 3
    told: list[str] = field(default_factory=list)
    taken: int = 0
    # Called with the count of takes so far, at each take: the moment a save begins.
    on_take: Callable[[int], None] | None = None
    span: Span = INVALID_SPAN

    def take_progress(self) -> Progress:
        self.taken += 1
        if self.on_take is not None:
            self.on_take(self.taken)
        return Progress(text=self.text, completion_tokens=self.tokens, ttft_ms=12.5)

    def lost(self) -> None:
        self.told.append("lost")

    def canceled(self) -> None:
        self.told.append("canceled")


@dataclass
class Setup:
    rows: Rows
    checkpointer: Checkpointer
    running: dict[uuid.UUID, Checkpointed]

    async def job(self, text: str, **row: Any) -> Job:
        """A job streaming a generation of its own, registered as running here."""
        generation = await self.rows.generation(**row)
        job = Job(generation.id, text)
        self.running[job.generation_id] = job
        return job

    def stream(self, *jobs: Job) -> None:
        for job in jobs:
            self.checkpointer.streamed(job, 1)


@pytest.fixture
def setup(sessions: async_sessionmaker[AsyncSession], rows: Rows) -> Setup:
    running: dict[uuid.UUID, Checkpointed] = {}
    checkpointer = Checkpointer(
        sessions, running=running, runner_id=RUNNER, every_tokens=20, interval_s=0.01
    )
    return Setup(rows, checkpointer, running)


@contextmanager
def generation_updates(engine: AsyncEngine) -> Iterator[list[int]]:
    """The UPDATEs of `generations` sent to the database meanwhile: for each, its rows."""
    sent: list[int] = []

    def before(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("UPDATE GENERATIONS"):
            sent.append(len(parameters) if many else 1)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


def refuse_nul_bytes(path: Path) -> None:
    """Make SQLite refuse text with a NUL byte in it, as PostgreSQL does (SQLite stores it)."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse_nul BEFORE UPDATE OF partial_text ON generations"
            " WHEN instr(NEW.partial_text, char(0)) > 0"
            " BEGIN SELECT RAISE(ABORT, 'invalid byte sequence: 0x00'); END"
        )
    connection.close()


def rename_generations(path: Path, old: str, new: str) -> None:
    """The table gone (or back): the engine's next statement on it fails, as on an outage."""
    connection = sqlite3.connect(path)
    try:
        connection.execute(f"ALTER TABLE {old} RENAME TO {new}")
        connection.commit()
    finally:
        connection.close()


async def test_one_round_saves_every_generation_with_new_text_in_one_statement(
    setup: Setup, engine: AsyncEngine
) -> None:
    jobs = [await setup.job(f"answer {n}") for n in range(3)]
    idle = await setup.job("nothing new")
    setup.stream(*jobs)
    with generation_updates(engine) as sent:
        await setup.checkpointer.round()
    assert sent == [3]
    saved = [await setup.rows.load(job.generation_id) for job in jobs]
    assert [(g.partial_text, g.completion_tokens, g.ttft_ms) for g in saved] == [
        (f"answer {n}", 3, 12.5) for n in range(3)
    ]
    assert saved[0].checkpointed_at is not None
    assert {g.checkpointed_at for g in saved} == {saved[0].checkpointed_at}
    assert (await setup.rows.load(idle.generation_id)).checkpointed_at is None
    assert all(job.told == [] for job in jobs)

    with generation_updates(engine) as sent:
        await setup.checkpointer.round()
    assert sent == [], "a round with nothing new wrote"


async def test_a_round_waits_for_its_interval_unless_a_job_has_many_unsaved_tokens(
    sessions: async_sessionmaker[AsyncSession], rows: Rows
) -> None:
    generation = await rows.generation()
    job = Job(generation.id, "urgent")
    checkpointer = Checkpointer(
        sessions, running={job.generation_id: job}, runner_id=RUNNER, every_tokens=5, interval_s=60
    )
    checkpointer.streamed(job, 4)
    round_ = asyncio.create_task(checkpointer.round())
    await asyncio.sleep(0.1)
    assert not round_.done(), "saved before the interval with fewer than every_tokens unsaved"
    checkpointer.streamed(job, 5)
    await asyncio.wait_for(round_, 5)
    assert (await rows.load(job.generation_id)).partial_text == "urgent"


async def test_a_generation_no_longer_held_here_is_lost_and_not_written(setup: Setup) -> None:
    held = await setup.job("mine")
    taken = await setup.job("taken", runner_id="another-runner")
    ended = await setup.job("ended", status=GenerationStatus.SUCCEEDED)
    queued = await setup.job("queued", status=GenerationStatus.QUEUED)
    setup.stream(held, taken, ended, queued)
    await setup.checkpointer.round()
    assert (held.told, taken.told, ended.told, queued.told) == ([], ["lost"], ["lost"], ["lost"])
    assert (await setup.rows.load(held.generation_id)).partial_text == "mine"
    for job in (taken, ended, queued):
        row = await setup.rows.load(job.generation_id)
        assert (row.partial_text, row.checkpointed_at) == ("", None)


async def test_a_generation_whose_cancel_is_recorded_is_canceled(setup: Setup) -> None:
    canceled = await setup.job("to stop", cancel_requested=True)
    going_on = await setup.job("going on")
    setup.stream(canceled, going_on)
    await setup.checkpointer.round()
    assert (canceled.told, going_on.told) == (["canceled"], [])
    # Its text is saved all the same: the runner ends it with that text.
    assert (await setup.rows.load(canceled.generation_id)).partial_text == "to stop"


async def test_text_the_database_refuses_stops_no_other_save(
    setup: Setup, sqlite_path: Path
) -> None:
    refuse_nul_bytes(sqlite_path)
    refused = await setup.job("bad \x00 byte")
    first = await setup.job("first")
    taken = await setup.job("taken", runner_id="another-runner")
    last = await setup.job("last", cancel_requested=True)
    setup.stream(first, refused, taken, last)
    await setup.checkpointer.round()
    assert (await setup.rows.load(first.generation_id)).partial_text == "first"
    assert (await setup.rows.load(last.generation_id)).partial_text == "last"
    assert (await setup.rows.load(refused.generation_id)).checkpointed_at is None
    # Saved one by one, each still learns what a round tells it.
    assert (first.told, refused.told, taken.told, last.told) == ([], [], ["lost"], ["canceled"])


async def test_after_a_failed_round_the_next_saves_what_still_runs_here(
    setup: Setup, sqlite_path: Path
) -> None:
    stays = await setup.job("stays")
    ends = await setup.job("ends")

    def outage(takes: int) -> None:
        if takes == 1:
            rename_generations(sqlite_path, "generations", "generations_away")
            del setup.running[ends.generation_id]  # it ends here while the save fails

    stays.on_take = outage
    setup.stream(stays, ends)
    with pytest.raises(OperationalError):
        await setup.checkpointer.round()
    rename_generations(sqlite_path, "generations_away", "generations")

    await setup.checkpointer.round()
    assert (await setup.rows.load(stays.generation_id)).partial_text == "stays"
    assert (await setup.rows.load(ends.generation_id)).checkpointed_at is None
    assert ends.taken == 1


async def test_a_failure_while_saving_one_by_one_leaves_the_rest_to_the_next_round(
    setup: Setup, sqlite_path: Path
) -> None:
    refuse_nul_bytes(sqlite_path)
    refused = await setup.job("bad \x00 byte")
    breaks = await setup.job("breaks")
    after = await setup.job("after")

    def outage(takes: int) -> None:
        if takes == 2:  # its own save, after the one of all three was refused
            rename_generations(sqlite_path, "generations", "generations_away")

    breaks.on_take = outage
    setup.stream(refused, breaks, after)
    with pytest.raises(OperationalError):
        await setup.checkpointer.round()
    rename_generations(sqlite_path, "generations_away", "generations")
    refused.on_take = breaks.on_take = None

    await setup.checkpointer.round()
    assert (await setup.rows.load(breaks.generation_id)).partial_text == "breaks"
    assert (await setup.rows.load(after.generation_id)).partial_text == "after"
    # The refused one was dealt with (logged): it is saved again only once it streams again.
    assert refused.taken == 2
    assert (await setup.rows.load(refused.generation_id)).checkpointed_at is None

"""The engine's database in unit tests: SQLite in a file of each test's own, migrated as the
all-in-one mode's is, and the rows a test arranges or inspects there."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from minichat.db import migrate
from minichat.db.models import Chat, Generation, Message, OutboxEvent, User
from minichat.db.session import create_engine, create_session_factory
from minichat.statuses import GenerationStatus, MessageRole
from minichat_api.generation import store
from minichat_api.usecases.messages import append_message

RUNNER = "runner-here"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per run (a second or so); each test gets a copy."""
    path = tmp_path_factory.mktemp("migrated") / "minichat.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}", report=lambda _line: None)
    return path


@pytest.fixture
def sqlite_path(migrated_sqlite: Path, tmp_path: Path) -> Path:
    path = tmp_path / "minichat.db"
    shutil.copyfile(migrated_sqlite, path)
    return path


@pytest.fixture
async def engine(sqlite_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{sqlite_path}")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@dataclass
class Rows:
    """Generations as a create leaves them (a user, a chat, the user's message), and what the
    database holds of them afterwards."""

    sessions: async_sessionmaker[AsyncSession]

    async def generation(
        self,
        *,
        status: GenerationStatus = GenerationStatus.STREAMING,
        runner_id: str = RUNNER,
        prompt: str = "Hello there",
        cancel_requested: bool = False,
        partial_text: str = "",
        completion_tokens: int | None = None,
    ) -> Generation:
        async with self.sessions() as session:
            user = User(
                email=f"{uuid.uuid4().hex}@example.com", password_hash="-", display_name="A"
            )
            session.add(user)
            await session.flush()
            chat = Chat(user_id=user.id, title="A chat")
            session.add(chat)
            await session.flush()
            message = await append_message(
                session, user.id, chat.id, role=MessageRole.USER, content=prompt
            )
            now = datetime.now(UTC)
            generation = Generation(
                chat_id=chat.id,
                user_id=user.id,
                model="test-model",
                user_message_id=message.id,
                runner_id=runner_id,
                status=status,
                partial_text=partial_text,
                completion_tokens=completion_tokens,
                started_at=None if status == GenerationStatus.QUEUED else now,
                cancel_requested_at=now if cancel_requested else None,
            )
            session.add(generation)
            await session.commit()
            return generation

    async def load(self, generation_id: uuid.UUID) -> Generation:
        async with self.sessions() as session:
            generation = await store.load(session, generation_id)
        assert generation is not None
        return generation

    async def set(self, generation_id: uuid.UUID, **values: Any) -> None:
        """Change the row behind the engine's back, as another process would."""
        async with self.sessions() as session:
            await session.execute(
                update(Generation).where(Generation.id == generation_id).values(**values)
            )
            await session.commit()

    async def messages(self, chat_id: uuid.UUID) -> list[Message]:
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(Message).where(Message.chat_id == chat_id).order_by(Message.seq)
                )
            )

    async def usage_events(self, generation_id: uuid.UUID) -> list[dict[str, Any]]:
        """The payloads of the usage events in the outbox for the generation."""
        async with self.sessions() as session:
            payloads = await session.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.event_type == "usage_event")
            )
            return [p for p in payloads if p["generation_id"] == str(generation_id)]


@pytest.fixture
def rows(sessions: async_sessionmaker[AsyncSession]) -> Rows:
    return Rows(sessions)

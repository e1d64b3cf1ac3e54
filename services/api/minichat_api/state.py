"""What one api process holds for its lifetime: settings, database, streams, the runner."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from minichat.db.session import create_engine, create_session_factory
from minichat.errors import ConfigError
from minichat.settings import MEMORY_URL
from minichat_api.generation.runner import GenerationRunner
from minichat_api.generation.service import GenerationService
from minichat_api.generation.store import StoredEndings
from minichat_api.generation.upstream import OpenAIUpstream
from minichat_api.outbox.local import Deliver, LocalPublisher
from minichat_api.outbox.relay import OutboxRelay
from minichat_api.outbox.rows import Publisher
from minichat_api.revocations import (
    MemoryRevokedSessions,
    RedisRevokedSessions,
    RevokedSessions,
)
from minichat_api.security import AccessTokens, PasswordWork
from minichat_api.settings import ApiSettings
from minichat_api.streams import GenerationStreams
from minichat_api.streams.memory_streams import MemoryGenerationStreams
from minichat_api.streams.per_user import FeedsPerUser
from minichat_api.streams.redis_streams import RedisGenerationStreams
from minichat_api.usecases.auth import AuthPolicy
from minichat_api.usecases.fair_use import (
    FairUse,
    Limits,
    MemoryWindowCounters,
    RedisWindowCounters,
    WindowCounters,
)

logger = logging.getLogger(__name__)
FALLBACK_MODEL = "default"
# A part /readyz reports on besides the database and Redis: True while it serves.
ReadinessCheck = Callable[[], bool]


@dataclass
class AppState:
    settings: ApiSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    access_tokens: AccessTokens
    revoked_sessions: RevokedSessions
    fair_use: FairUse
    auth_policy: AuthPolicy
    streams: GenerationStreams
    upstream: OpenAIUpstream
    relay: OutboxRelay | None = None
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    runner: GenerationRunner = field(init=False)
    generations: GenerationService = field(init=False)
    endings: StoredEndings = field(init=False)
    feeds_per_user: FeedsPerUser = field(init=False)
    _model: str | None = None

    def __post_init__(self) -> None:
        self._model = self.settings.inference_model
        self.runner = GenerationRunner(
            sessions=self.sessions,
            streams=self.streams,
            upstream=self.upstream,
            settings=self.settings,
        )
        self.generations = GenerationService(
            self.runner,
            self.streams,
            self.fair_use,
            context_chars=self.settings.generation_context_chars,
        )
        self.endings = StoredEndings(self.sessions)
        self.feeds_per_user = FeedsPerUser(self.settings.stream_max_per_user)

    @classmethod
    def build(
        cls,
        settings: ApiSettings,
        event_sink: Deliver | None = None,
        readiness: Mapping[str, ReadinessCheck] | None = None,
    ) -> AppState:
        """`event_sink`: where `BROKER_URL=memory://` delivers events, and `readiness`: the
        children /readyz also checks (both wired by `minichat up`)."""
        engine = create_engine(settings.database_url)
        relay = None
        if settings.relay_in_api:
            assert settings.broker_url  # required by the settings then
            relay = OutboxRelay(
                engine,
                _publisher(settings.broker_url, event_sink),
                **settings.relay_options(),
            )
        api_key = settings.inference_upstream_api_key
        revoked = open_revoked_sessions(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            access_tokens=AccessTokens(
                settings.jwt_secret.get_secret_value(), settings.access_token_ttl_seconds, revoked
            ),
            revoked_sessions=revoked,
            fair_use=FairUse(
                Limits(
                    concurrent_answers=settings.limit_concurrent_answers,
                    messages_per_minute=settings.limit_messages_per_minute,
                    logins_per_address_per_minute=settings.limit_logins_per_address_per_minute,
                    registrations_per_address_per_hour=(
                        settings.limit_registrations_per_address_per_hour
                    ),
                ),
                open_window_counters(settings),
            ),
            auth_policy=AuthPolicy(
                refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
                max_login_failures=settings.login_max_failures,
                failure_window=timedelta(seconds=settings.login_failure_window_seconds),
                passwords=PasswordWork(
                    concurrency=os.cpu_count() or 2, max_waiting=settings.password_checks_waiting
                ),
            ),
            streams=open_streams(settings),
            upstream=OpenAIUpstream.create(
                settings.inference_url,
                connect_timeout=settings.inference_connect_timeout_seconds,
                read_timeout=settings.inference_timeout_seconds,
                api_key=api_key.get_secret_value() if api_key else None,
            ),
            relay=relay,
            readiness=dict(readiness or {}),
        )

    async def model_name(self) -> str:
        """The model generations ask for: INFERENCE_MODEL, else the first the inference serves."""
        if self._model is None:
            try:
                self._model = await self.upstream.first_model()
            except (ValueError, KeyError, IndexError) as exc:
                logger.warning("cannot list inference models (%r); asking for the default", exc)
                return FALLBACK_MODEL
        return self._model

    async def start(self) -> None:
        await self.revoked_sessions.start()
        await self.runner.start()
        if self.relay is not None:
            await self.relay.start()

    async def close(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
        await self.runner.stop()
        await self.streams.close()
        await self.revoked_sessions.close()
        await self.fair_use.close()
        await self.upstream.close()
        await self.engine.dispose()


def open_streams(settings: ApiSettings) -> GenerationStreams:
    """Redis for any real deployment; `REDIS_URL=memory://` keeps streams inside this one
    process (the all-in-one mode), which only works with a single api process."""
    if settings.redis_url.startswith(MEMORY_URL):
        return MemoryGenerationStreams(
            retention_seconds=settings.stream_retention_seconds,
            max_events=settings.stream_max_events,
        )
    return RedisGenerationStreams.from_url(
        settings.redis_url,
        prefix=settings.redis_key_prefix,
        retention_seconds=settings.stream_retention_seconds,
        max_events=settings.stream_max_events,
    )


def open_window_counters(settings: ApiSettings) -> WindowCounters:
    if settings.redis_url.startswith(MEMORY_URL):
        return MemoryWindowCounters()
    return RedisWindowCounters.from_url(settings.redis_url, prefix=settings.redis_key_prefix)


def open_revoked_sessions(settings: ApiSettings) -> RevokedSessions:
    """Shared through Redis by every api process, or kept in the one process of `minichat up`."""
    ttl = settings.access_token_ttl_seconds
    if settings.redis_url.startswith(MEMORY_URL):
        return MemoryRevokedSessions(ttl_seconds=ttl)
    return RedisRevokedSessions.from_url(
        settings.redis_url, prefix=settings.redis_key_prefix, ttl_seconds=ttl
    )


def _publisher(broker_url: str, event_sink: Deliver | None) -> Publisher | str:
    if not broker_url.startswith(MEMORY_URL):
        return broker_url
    if event_sink is None:
        raise ConfigError(
            "BROKER_URL=memory:// delivers events inside `minichat up` only; "
            "point BROKER_URL at RabbitMQ (e.g. amqp://guest:guest@127.0.0.1:5672//)"
        )
    return LocalPublisher(event_sink)

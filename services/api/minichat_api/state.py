"""What one api process holds for its lifetime: settings, the database, token services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from minichat.db.session import create_engine, create_session_factory
from minichat.settings import Settings
from minichat_api.security import AccessTokens
from minichat_api.usecases.auth import AuthPolicy


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    access_tokens: AccessTokens
    auth_policy: AuthPolicy

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        settings.require("database_url", "jwt_secret")
        assert settings.database_url is not None and settings.jwt_secret is not None
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            access_tokens=AccessTokens(
                settings.jwt_secret.get_secret_value(), settings.access_token_ttl_seconds
            ),
            auth_policy=AuthPolicy(
                refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
                max_login_failures=settings.login_max_failures,
                failure_window=timedelta(seconds=settings.login_failure_window_seconds),
            ),
        )

    async def close(self) -> None:
        await self.engine.dispose()

"""Sessions signed out before their access tokens expire: a logout, or a refresh token used twice.

An access token names its session (`sid`, the family of refresh tokens its login started). A
revoked session is remembered until the last access token it can have issued expires, one
access-token lifetime. Every api process keeps the list in memory, so checking a token costs a
dictionary lookup; on Redis the processes share it, and each reads it again every
`refresh_seconds`, so a session revoked anywhere stops working everywhere within about that.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Protocol

from redis.asyncio import Redis

from minichat_api.background import cancel_and_wait

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0


class RevokedSessions(Protocol):
    def is_revoked(self, session_id: uuid.UUID) -> bool: ...

    async def revoke(self, session_id: uuid.UUID) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemoryRevokedSessions:
    """The list inside one process: the all-in-one mode, which runs one api process."""

    def __init__(self, *, ttl_seconds: float, until: dict[uuid.UUID, float] | None = None) -> None:
        """`until`: revoked sessions already known, with when each may be forgotten (epoch s)."""
        self._ttl = ttl_seconds
        self._until = until or {}

    def is_revoked(self, session_id: uuid.UUID) -> bool:
        until = self._until.get(session_id)
        return until is not None and until > time.time()

    async def revoke(self, session_id: uuid.UUID) -> None:
        now = time.time()
        self._until = {s: at for s, at in self._until.items() if at > now}
        self._until[session_id] = now + self._ttl

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisRevokedSessions:
    """The list in one sorted set (member: session id, score: until when, in ms), shared by
    every api process; each holds a copy it reads again every `refresh_seconds`."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        ttl_seconds: float,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self._redis = redis
        self._key = f"{prefix}revoked-sessions"
        self._ttl = ttl_seconds
        self._refresh = refresh_seconds
        self._local = MemoryRevokedSessions(ttl_seconds=ttl_seconds)
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str, *, prefix: str, ttl_seconds: float) -> RedisRevokedSessions:
        return cls(Redis.from_url(url), prefix=prefix, ttl_seconds=ttl_seconds)

    def is_revoked(self, session_id: uuid.UUID) -> bool:
        return self._local.is_revoked(session_id)

    async def revoke(self, session_id: uuid.UUID) -> None:
        until_ms = int((time.time() + self._ttl) * 1000)
        # Shared first: a refresh that replaces the copy from then on includes it.
        await self._redis.zadd(self._key, {str(session_id): until_ms})
        await self._local.revoke(session_id)

    async def refresh(self) -> None:
        """Read the shared list again, forgetting what has expired."""
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self._key, "-inf", now_ms)
            pipe.zrangebyscore(self._key, now_ms, "+inf", withscores=True)
            _removed, members = await pipe.execute()
        until = {uuid.UUID(member.decode()): score / 1000 for member, score in members}
        self._local = MemoryRevokedSessions(ttl_seconds=self._ttl, until=until)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="revoked-sessions")

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None
        await self._redis.aclose()

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the last list read stays in force until Redis is back
                logger.warning("cannot read the revoked sessions: %r", exc)
            await asyncio.sleep(self._refresh)

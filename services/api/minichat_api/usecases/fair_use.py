"""Fair use: one user cannot take the answers, or the model, from everyone else.

Limits per user and per client address, each with its default in the settings:
- answers running at once per user, counted in the database where the answers are, with the
  user's row locked for the count so that creates racing on several api processes (in several
  chats) cannot all pass it;
- messages per minute per user, counted in a window shared by every api process (Redis), or
  inside the one process of `minichat up`;
- logins a minute and registrations an hour per client address, in such windows too.
Over a limit the request is a 429 naming the limit, with Retry-After.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.db.models import User
from minichat.errors import RateLimited
from minichat_api.generation import store

MINUTE = 60
HOUR = 3600
# A running answer ends within seconds to minutes; asking again this soon is reasonable.
ANSWER_RETRY_SECONDS = 5


@dataclass(frozen=True)
class Limits:
    concurrent_answers: int
    messages_per_minute: int
    logins_per_address_per_minute: int
    registrations_per_address_per_hour: int


class WindowCounters(Protocol):
    async def hit(self, key: str, window_seconds: int) -> int:
        """Count one more for `key` in the current window of `window_seconds`; the count."""
        ...

    async def close(self) -> None: ...


class MemoryWindowCounters:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def hit(self, key: str, window_seconds: int) -> int:
        window = int(time.time() // window_seconds)
        self._counts = {k: n for k, n in self._counts.items() if k[1] >= window - 1}
        self._counts[key, window] = self._counts.get((key, window), 0) + 1
        return self._counts[key, window]

    async def close(self) -> None:
        return None


class RedisWindowCounters:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str) -> RedisWindowCounters:
        return cls(Redis.from_url(url), prefix=prefix)

    async def hit(self, key: str, window_seconds: int) -> int:
        window = int(time.time() // window_seconds)
        name = f"{self._prefix}limit:{key}:{window}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds * 2)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True)
class _Window:
    limit: str  # its name, in the 429's error
    seconds: int
    code: str


class FairUse:
    def __init__(self, limits: Limits, counters: WindowCounters) -> None:
        self.limits = limits
        self._counters = counters

    async def check_message(self, user_id: uuid.UUID) -> None:
        """Count a message the user posts; 429 `too_many_messages` past the minute's limit."""
        await self._count(
            _Window("messages_per_minute", MINUTE, "too_many_messages"),
            f"messages:{user_id}",
            self.limits.messages_per_minute,
            "at most {limit} messages a minute; try again in a moment",
        )

    async def check_login(self, address: str) -> None:
        """Count a login from `address`, whatever its email: one address trying many accounts
        is stopped before any password is checked."""
        await self._count(
            _Window("logins_per_address_per_minute", MINUTE, "too_many_login_attempts"),
            f"logins:{address}",
            self.limits.logins_per_address_per_minute,
            "at most {limit} logins a minute from one address; try again in a moment",
        )

    async def check_registration(self, address: str) -> None:
        await self._count(
            _Window("registrations_per_address_per_hour", HOUR, "too_many_registrations"),
            f"registrations:{address}",
            self.limits.registrations_per_address_per_hour,
            "at most {limit} accounts an hour from one address; try again later",
        )

    async def _count(self, window: _Window, key: str, limit: int, message: str) -> None:
        if await self._counters.hit(key, window.seconds) > limit:
            raise RateLimited(
                message.format(limit=limit),
                retry_after_seconds=_until_window_ends(window.seconds),
                code=window.code,
                limit=window.limit,
            )

    async def check_answer(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Within the create's transaction: 429 `too_many_concurrent_answers` when the user's
        answers already running reach the limit. Holds the user's row until the commit."""
        # FOR NO KEY UPDATE: creates take turns for the count, but the user's other inserts
        # (their foreign keys' KEY SHARE locks) do not wait for it. FOR UPDATE made them, and
        # cost 90 ms a create at 50 concurrent streams.
        await session.execute(
            select(User.id).where(User.id == user_id).with_for_update(key_share=True)
        )
        limit = self.limits.concurrent_answers
        if await store.active_count_of_user(session, user_id) >= limit:
            raise RateLimited(
                f"at most {limit} answers may be written at once; stop one or wait for it",
                retry_after_seconds=ANSWER_RETRY_SECONDS,
                code="too_many_concurrent_answers",
                limit="concurrent_answers",
            )

    async def close(self) -> None:
        await self._counters.close()


def _until_window_ends(window_seconds: int) -> int:
    return max(1, math.ceil(window_seconds - time.time() % window_seconds))

"""Generation streams on Redis: one Redis Stream per generation, keys, and a cancel channel."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub

from minichat_api.streams.base import StreamEvent
from minichat_api.streams.hub import StreamHub, entry_event, new_wake_key, xread_entries
from minichat_api.streams.redis_appends import AppendPipeline

MAX_CONNECTIONS = 256
_EXPIRY_REFRESH_SECONDS = 10.0
_EXPIRY_TRACKED_MAX = 50_000


class RedisGenerationStreams:
    def __init__(
        self, redis: Redis, *, prefix: str, retention_seconds: int, max_events: int
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._retention_ms = retention_seconds * 1000
        self._max_events = max_events
        self._pubsub: PubSub | None = None
        self._pubsub_lock = asyncio.Lock()
        self._hub = StreamHub(redis, new_wake_key(prefix))
        self._appends = AppendPipeline(redis)
        self._expiry_set: dict[str, float] = {}

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str, retention_seconds: int, max_events: int
    ) -> RedisGenerationStreams:
        # Commands wait for a free connection instead of failing when thousands of generations
        # write at once; the hub's blocking read (1 s) stays well inside the socket timeout.
        pool = BlockingConnectionPool.from_url(
            url,
            decode_responses=True,
            max_connections=MAX_CONNECTIONS,
            timeout=30,
            health_check_interval=30,
            socket_connect_timeout=2,
            socket_timeout=10,
        )
        redis = Redis(connection_pool=pool)
        return cls(redis, prefix=prefix, retention_seconds=retention_seconds, max_events=max_events)

    def stream_key(self, generation_id: uuid.UUID) -> str:
        return f"{self._prefix}gen:{generation_id}"

    @property
    def _cancel_channel(self) -> str:
        return f"{self._prefix}cancel"

    async def append(
        self,
        generation_id: uuid.UUID,
        events: Sequence[tuple[str, dict[str, Any]]],
        *,
        tokens: int | None = None,
    ) -> list[str]:
        key = self.stream_key(generation_id)
        entries = [
            {"e": event, "d": json.dumps(data, separators=(",", ":"))} for event, data in events
        ]
        if tokens is not None:
            for entry in entries:
                entry["t"] = str(tokens)
        due = self._retention_due(key, ending=any(e["e"] == "done" for e in entries))
        try:
            appended = await self._appends.append(
                key, entries, maxlen=self._max_events, expire_ms=self._retention_ms if due else None
            )
        except BaseException:
            # Even a failed append may have landed: the followers here read from their last id.
            self._hub.appended(key)
            raise
        if appended.ids:
            self._hub.delivered(
                key,
                appended.previous,
                [entry_event(i, e) for i, e in zip(appended.ids, entries, strict=True)],
            )
        else:
            # Refused: the stream has ended, by another writer's `done` that followers here may
            # not have read (this process's streams are not in the blocking read).
            self._hub.appended(key)
        return appended.ids

    def writing(self, generation_id: uuid.UUID) -> AbstractContextManager[None]:
        return self._hub.writing(self.stream_key(generation_id))

    def _retention_due(self, key: str, *, ending: bool) -> bool:
        """Whether this write must (re)set the stream's expiry: on its first write, at its end,
        and every few seconds between, instead of on every token."""
        now = time.monotonic()
        last = self._expiry_set.get(key)
        due = ending or last is None or now - last > _EXPIRY_REFRESH_SECONDS
        if ending:
            self._expiry_set.pop(key, None)
        elif due:
            if len(self._expiry_set) > _EXPIRY_TRACKED_MAX:
                self._expiry_set.clear()
            self._expiry_set[key] = now
        return due

    async def read(
        self, generation_id: uuid.UUID, after: str | None, *, block_ms: int, count: int = 500
    ) -> list[StreamEvent]:
        key = self.stream_key(generation_id)
        response: Any = await self._redis.xread(
            {key: after or "0-0"}, count=count, block=block_ms if block_ms > 0 else None
        )
        return [
            entry_event(entry_id, fields)
            for _key, entries in xread_entries(response)
            for entry_id, fields in entries
        ]

    def follow(
        self, generation_id: uuid.UUID, after: str | None, *, idle_seconds: float
    ) -> AsyncIterator[list[StreamEvent]]:
        return self._hub.follow(self.stream_key(generation_id), after, idle_seconds)

    async def exists(self, generation_id: uuid.UUID) -> bool:
        return bool(await self._redis.exists(self.stream_key(generation_id)))

    async def last_event(self, generation_id: uuid.UUID) -> StreamEvent | None:
        newest: Any = await self._redis.xrevrange(self.stream_key(generation_id), count=1)
        return entry_event(*newest[0]) if newest else None

    async def request_cancel(self, generation_id: uuid.UUID) -> None:
        await self._redis.publish(self._cancel_channel, str(generation_id))

    async def next_cancel(self) -> uuid.UUID:
        async with self._pubsub_lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await self._pubsub.subscribe(self._cancel_channel)
        while True:
            message = await self._pubsub.get_message(timeout=1.0)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # redis-py can swallow a cancel that lands during `subscribe`; honour it here.
                raise asyncio.CancelledError
            if message is None or message.get("type") != "message":
                continue
            try:
                return uuid.UUID(str(message["data"]))
            except ValueError:
                continue

    async def heartbeat(self, runner_id: str, ttl_ms: int) -> None:
        await self._redis.set(f"{self._prefix}runner:{runner_id}", "1", px=ttl_ms)

    async def alive(self, runner_ids: Sequence[str]) -> dict[str, bool]:
        if not runner_ids:
            return {}
        values = await self._redis.mget([f"{self._prefix}runner:{r}" for r in runner_ids])
        return {runner: value is not None for runner, value in zip(runner_ids, values, strict=True)}

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._hub.close()
        await self._appends.close()
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()
        # The client does not own a pool it was given; close it ourselves.
        await self._redis.connection_pool.disconnect()

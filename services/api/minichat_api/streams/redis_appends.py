"""Every generation's appends in this process, joined into one Redis pipeline per round trip.

A command per delta costs a round trip and a pooled connection each; with thousands of
generations streaming, those queue for the pool. Here the first append goes out at once (no
waiting to fill a batch) and whatever arrives while a pipeline is in flight goes out together
next, in arrival order, so one stream's entries keep the order they were appended in.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from minichat_api.background import cancel_and_wait

# Bounds one pipeline's size, so one round trip never holds the event loop for long.
_MAX_COMMANDS = 2000


@dataclass(eq=False)
class _Append:
    key: str
    entries: list[dict[str, str]]
    maxlen: int
    expire_ms: int | None
    written: asyncio.Future[list[str]]

    @property
    def commands(self) -> int:
        return len(self.entries) + (self.expire_ms is not None)


class AppendPipeline:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiting: deque[_Append] = deque()
        self._task: asyncio.Task[None] | None = None

    async def append(
        self, key: str, entries: list[dict[str, str]], *, maxlen: int, expire_ms: int | None
    ) -> list[str]:
        """XADD `entries` to `key` in order (and PEXPIRE it); the new entry ids."""
        written: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        append = _Append(key, entries, maxlen, expire_ms, written)
        self._waiting.append(append)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return await append.written

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        # A task cancelled before it ever ran has not failed them itself.
        self._fail_waiting()

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch = self._take()
                try:
                    results = await self._send(batch)
                except BaseException as exc:
                    for append in batch:
                        _fail(append, exc if isinstance(exc, Exception) else _stopped())
                    if not isinstance(exc, Exception):
                        raise
                    continue
                position = 0
                for append in batch:
                    outcome = results[position : position + append.commands]
                    position += append.commands
                    error = next((r for r in outcome if isinstance(r, Exception)), None)
                    if error is not None:
                        _fail(append, error)
                    elif not append.written.done():
                        append.written.set_result([str(r) for r in outcome[: len(append.entries)]])
        finally:
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        """Cancelled (shutting down): nobody is left waiting on a write that never happens."""
        for append in self._waiting:
            _fail(append, _stopped())
        self._waiting.clear()

    def _take(self) -> list[_Append]:
        batch: list[_Append] = []
        commands = 0
        while self._waiting:
            if batch and commands + self._waiting[0].commands > _MAX_COMMANDS:
                break
            append = self._waiting.popleft()
            batch.append(append)
            commands += append.commands
        return batch

    async def _send(self, batch: list[_Append]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for append in batch:
                for entry in append.entries:
                    pipe.xadd(append.key, entry, maxlen=append.maxlen, approximate=True)  # type: ignore[arg-type]
                if append.expire_ms is not None:
                    pipe.pexpire(append.key, append.expire_ms)
            return list(await pipe.execute(raise_on_error=False))


def _stopped() -> RedisConnectionError:
    return RedisConnectionError("the stream writer stopped")


def _fail(append: _Append, exc: BaseException) -> None:
    if not append.written.done():
        append.written.set_exception(exc)

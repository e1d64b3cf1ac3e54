"""Every generation's appends in this process, joined into one Redis pipeline per round trip.

A command per delta costs a round trip and a pooled connection each; with thousands of
generations streaming, those queue for the pool. Here the first append goes out at once (no
waiting to fill a batch) and whatever arrives while a pipeline is in flight goes out together
next, in arrival order, so one stream's entries keep the order they were appended in.

Each append is one script that also answers the id of the entry before its own: the writer's
followers in this process take the new entries straight from the answer when they have read up
to that id, and are read for only when another writer came in between. A stream whose last
entry is a `done` takes nothing more, whoever writes: `done` is always last.
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

# KEYS[1]: the stream; ARGV: maxlen, expire_ms (0: leave the expiry), then per entry its field
# count and fields. Answers the id of the entry before these ('' for none), then their ids
# (none when the stream has ended).
_APPEND_SCRIPT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local answer = {last[1] and last[1][1] or ''}
if last[1] then
  local fields = last[1][2]
  for k = 1, #fields, 2 do
    if fields[k] == 'e' and fields[k + 1] == 'done' then return answer end
  end
end
local i = 3
while i <= #ARGV do
  local fields = tonumber(ARGV[i])
  local xadd = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*'}
  for j = i + 1, i + 2 * fields do xadd[#xadd + 1] = ARGV[j] end
  answer[#answer + 1] = redis.call(unpack(xadd))
  i = i + 2 * fields + 1
end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return answer
"""


@dataclass(frozen=True)
class Appended:
    """The new entries' ids (none: the stream had ended), and the id of the stream's entry
    before them (`0-0`: none)."""

    previous: str
    ids: list[str]


@dataclass(eq=False)
class _Append:
    key: str
    entries: list[dict[str, str]]
    maxlen: int
    expire_ms: int | None
    written: asyncio.Future[Appended]

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
    ) -> Appended:
        """XADD `entries` to `key` in order (and PEXPIRE it), in one atomic step."""
        written: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
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
                for append, outcome in zip(batch, results, strict=True):
                    if isinstance(outcome, Exception):
                        _fail(append, outcome)
                    elif not append.written.done():
                        previous, *ids = (str(r) for r in outcome)
                        append.written.set_result(Appended(previous or "0-0", ids))
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
                arguments: list[str | int] = [append.maxlen, append.expire_ms or 0]
                for entry in append.entries:
                    arguments.append(len(entry))
                    for field_value in entry.items():
                        arguments += field_value
                # EVAL, not EVALSHA: a pipeline with scripts would first ask SCRIPT EXISTS,
                # a round trip per batch; Redis caches the script's compiled form anyway.
                pipe.eval(_APPEND_SCRIPT, 1, append.key, *arguments)
            return list(await pipe.execute(raise_on_error=False))


def _stopped() -> RedisConnectionError:
    return RedisConnectionError("the stream writer stopped")


def _fail(append: _Append, exc: BaseException) -> None:
    if not append.written.done():
        append.written.set_exception(exc)

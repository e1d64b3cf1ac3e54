"""Password checks are bounded: a flood gets quick 429s instead of a queue everyone waits in."""

from __future__ import annotations

import asyncio
import threading

import pytest

from minichat.errors import RateLimited
from minichat_api.security import PasswordWork


async def test_checks_beyond_the_running_and_the_waiting_are_refused_at_once() -> None:
    work = PasswordWork(concurrency=1, max_waiting=1)
    release = threading.Event()

    def slow_hash(password: str) -> str:
        release.wait(5)
        return password[::-1]

    running = asyncio.create_task(work.run(slow_hash, "first"))
    waiting = asyncio.create_task(work.run(slow_hash, "second"))
    await asyncio.sleep(0.05)  # both have reached the gate
    with pytest.raises(RateLimited) as refused:
        await work.run(slow_hash, "third")
    assert refused.value.code == "server_busy"
    assert refused.value.retry_after_seconds == 1

    release.set()
    assert await running == "tsrif"
    assert await waiting == "dnoces"
    assert await work.run(slow_hash, "again") == "niaga"

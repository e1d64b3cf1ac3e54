"""Admission control on its own: slots, the queue bound, the Retry-After estimate."""

from __future__ import annotations

import asyncio

import pytest

from minichat.errors import RateLimited
from minichat_inference.admission import Admission
from minichat_inference.metrics import Metrics


async def test_slots_then_queue_then_refusal() -> None:
    admission = Admission(max_concurrency=1, max_queue=1, metrics=Metrics("test"))
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.slot():
            await release.wait()

    first = asyncio.create_task(hold())
    await asyncio.sleep(0)
    second = asyncio.create_task(hold())
    await asyncio.sleep(0)
    assert (admission.active, admission.waiting) == (1, 1)
    with pytest.raises(RateLimited) as refused:
        async with admission.slot():
            pass
    assert 1 <= refused.value.retry_after_seconds <= 60
    release.set()
    await asyncio.gather(first, second)
    assert (admission.active, admission.waiting) == (0, 0)


async def test_cancelled_waiter_leaves_the_queue() -> None:
    admission = Admission(max_concurrency=1, max_queue=4, metrics=Metrics("test"))
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert admission.waiting == 0
    release.set()
    await holder
    assert admission.active == 0

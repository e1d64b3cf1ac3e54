"""The all-in-one mode's in-memory streams forget what has expired, as Redis does: a process
that streams answers for days holds only those of the retention window."""

from __future__ import annotations

import tracemalloc
import uuid

from minichat_api.streams.memory_streams import MemoryGenerationStreams


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _answer(streams: MemoryGenerationStreams, clock: Clock, *, canceled: bool) -> None:
    generation = uuid.uuid4()
    for index in range(20):
        await streams.append(generation, [("delta", {"text": "word " * 20, "index": index})])
    if canceled:
        await streams.request_cancel(generation)
    await streams.append(
        generation,
        [("usage", {"prompt_tokens": 5, "completion_tokens": 20}), ("done", {"status": "x"})],
    )
    await streams.heartbeat(f"runner-{generation}", 5000)
    clock.now += 0.1  # ten answers a second


async def test_memory_stays_flat_over_2000_answers() -> None:
    clock = Clock()
    # 10 s of retention: about 100 answers' streams are kept at any time.
    streams = MemoryGenerationStreams(retention_seconds=10, max_events=1000, clock=clock)
    tracemalloc.start()
    try:
        for number in range(200):  # the retention window fills
            await _answer(streams, clock, canceled=number % 3 == 0)
        filled = tracemalloc.get_traced_memory()[0]
        for number in range(2000):
            await _answer(streams, clock, canceled=number % 3 == 0)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - filled < 0.2 * filled, (filled, after)


async def test_an_expired_stream_is_gone() -> None:
    clock = Clock()
    streams = MemoryGenerationStreams(retention_seconds=10, max_events=1000, clock=clock)
    generation = uuid.uuid4()
    await streams.append(generation, [("done", {"status": "canceled"})])
    clock.now += 5
    assert await streams.exists(generation)
    clock.now += 6
    assert not await streams.exists(generation)

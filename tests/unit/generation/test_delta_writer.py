"""The delta writer: a token goes out at once when no write is in flight; tokens that come
during a write go out together in the next one; a broken stream is reported by `drain`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from minichat_api.generation.delta_writer import DeltaWriter
from minichat_api.streams import StreamEvent
from minichat_api.streams.memory_streams import MemoryGenerationStreams
from tests.eventually import eventually


class GatedStreams(MemoryGenerationStreams):
    """Memory streams whose appends wait at a gate the test opens; from the `fail_from`th
    append on, each raises instead, as a broken Redis would."""

    def __init__(self, *, fail_from: int | None = None) -> None:
        super().__init__(retention_seconds=60, max_events=10_000)
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = 0
        self._fail_from = fail_from

    async def append(
        self,
        generation_id: uuid.UUID,
        events: Sequence[tuple[str, dict[str, Any]]],
        *,
        tokens: int | None = None,
    ) -> list[str]:
        self.started += 1
        await self.gate.wait()
        if self._fail_from is not None and self.started >= self._fail_from:
            raise ConnectionError("the stream is unreachable")
        return await super().append(generation_id, events, tokens=tokens)


async def _deltas(streams: MemoryGenerationStreams, generation: uuid.UUID) -> list[StreamEvent]:
    events = await streams.read(generation, None, block_ms=0)
    assert all(e.event == "delta" for e in events)
    return events


async def test_a_token_with_no_write_in_flight_is_its_own_event() -> None:
    streams = GatedStreams()
    generation = uuid.uuid4()
    writer = DeltaWriter(streams, generation, next_index=0, tokens=0)
    for text in ["One", " two", " three"]:
        writer.push(text)
        await writer.drain()
    events = await _deltas(streams, generation)
    assert [e.data for e in events] == [
        {"text": "One", "index": 0},
        {"text": " two", "index": 1},
        {"text": " three", "index": 2},
    ]
    assert [e.tokens for e in events] == [1, 2, 3]


async def test_tokens_pushed_during_a_write_go_out_together_in_the_next() -> None:
    streams = GatedStreams()
    streams.gate.clear()
    generation = uuid.uuid4()
    writer = DeltaWriter(streams, generation, next_index=0, tokens=0)
    writer.push("Hel")
    await eventually(lambda: streams.started == 1, "the first token's write")
    for text in ["lo", ", ", "world"]:
        writer.push(text)
    await asyncio.sleep(0.05)
    assert streams.started == 1, "a second write began while the first was in flight"
    assert writer.received_text == "Hello, world"
    streams.gate.set()
    await writer.drain()
    events = await _deltas(streams, generation)
    assert [e.data for e in events] == [
        {"text": "Hel", "index": 0},
        {"text": "lo, world", "index": 1},
    ]
    assert [e.tokens for e in events] == [1, 4]
    assert streams.started == 2


async def test_indexes_and_tokens_count_on_from_where_the_answer_stood() -> None:
    """An adopted answer's writer starts at the stream's next index and its token count."""
    streams = GatedStreams()
    streams.gate.clear()
    generation = uuid.uuid4()
    writer = DeltaWriter(streams, generation, next_index=7, tokens=40)
    writer.push("a")
    await eventually(lambda: streams.started == 1, "the first write")
    writer.push("b")
    writer.push("c")
    streams.gate.set()
    await writer.drain()
    writer.push("d")
    await writer.drain()
    events = await _deltas(streams, generation)
    assert [(e.data["index"], e.data["text"], e.tokens) for e in events] == [
        (7, "a", 41),
        (8, "bc", 43),
        (9, "d", 44),
    ]
    assert writer.next_index == 10


async def test_drain_with_nothing_pushed_returns_at_once() -> None:
    streams = GatedStreams()
    streams.gate.clear()  # any write would hang here
    writer = DeltaWriter(streams, uuid.uuid4(), next_index=0, tokens=0)
    await asyncio.wait_for(writer.drain(), 1)
    assert streams.started == 0
    assert writer.received_text == ""


async def test_drain_raises_what_a_write_raised_and_the_text_is_kept() -> None:
    streams = GatedStreams(fail_from=2)
    generation = uuid.uuid4()
    writer = DeltaWriter(streams, generation, next_index=0, tokens=0)
    writer.push("Written")
    await writer.drain()
    writer.push(" refused")
    with pytest.raises(ConnectionError):
        await writer.drain()
    # The stream is broken: later tokens are kept, not sent into it again.
    writer.push(" later")
    await asyncio.sleep(0.05)
    assert streams.started == 2
    with pytest.raises(ConnectionError):
        await writer.drain()
    assert writer.received_text == "Written refused later"
    assert [e.data["text"] for e in await _deltas(streams, generation)] == ["Written"]


async def test_a_lead_goes_out_with_the_first_text_only() -> None:
    """The start of a continued answer that its stream lacks."""
    streams = GatedStreams()
    generation = uuid.uuid4()
    writer = DeltaWriter(streams, generation, next_index=0, tokens=4, lead="Once upon")
    for text in [" a", " time"]:
        writer.push(text)
        await writer.drain()
    events = await _deltas(streams, generation)
    assert [(e.data["text"], e.tokens) for e in events] == [("Once upon a", 5), (" time", 6)]
    assert writer.received_text == " a time"

"""Writes a generation's text to its stream, coalescing tokens only while a write is in flight."""

from __future__ import annotations

import asyncio
import uuid

from minichat_api.streams import GenerationStreams


class DeltaWriter:
    """The first token goes out at once; tokens that arrive during a write go out together next.

    Under light load every token is its own event; under heavy load Redis sees fewer, larger
    writes instead of a growing queue.
    """

    def __init__(
        self,
        streams: GenerationStreams,
        generation_id: uuid.UUID,
        next_index: int,
        tokens: int,
        lead: str = "",
    ):
        """`tokens`: the answer's completion tokens already in the stream; each pushed text
        is one more. `lead`: text the stream lacks, sent with the first pushed text (the start
        of a continued answer), not part of `received_text`."""
        self._lead = lead
        self._streams = streams
        self._tokens = tokens
        self._generation_id = generation_id
        self._pending: list[str] = []
        self._written: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self.next_index = next_index

    @property
    def received_text(self) -> str:
        return "".join(self._written) + "".join(self._pending)

    def push(self, text: str) -> None:
        self._pending.append(text)
        if self._task is None or self._task.done():
            if self._task is not None and _failed(self._task):
                return  # the stream is broken; `drain` reports it
            self._task = asyncio.create_task(self._flush())

    async def drain(self) -> None:
        """Wait until everything pushed is written; raises what a write raised."""
        while self._task is not None:
            task = self._task
            await task
            if task is self._task and not self._pending:
                break
            if task is self._task:
                self._task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            taken = len(self._pending)
            text = "".join(self._pending[:taken])
            await self._streams.append(
                self._generation_id,
                [("delta", {"text": self._lead + text, "index": self.next_index})],
                tokens=self._tokens + taken,
            )
            self._lead = ""
            self._tokens += taken
            del self._pending[:taken]
            self.next_index += 1
            self._written.append(text)


def _failed(task: asyncio.Task[None]) -> bool:
    return task.cancelled() or task.exception() is not None

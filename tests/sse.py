"""A small SSE client for tests: reads `id`/`event`/`data` frames from an httpx stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    id: str | None
    event: str
    data: dict[str, Any]


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """The frames of `response` as they arrive; comments (pings) are skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield Event(
                    fields.get("id"), fields.get("event", "message"), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


async def collect(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    last_event_id: str | None = None,
    stop_after: int | None = None,
) -> list[Event]:
    """Every event until the server closes (or `stop_after` events, then disconnect)."""
    request_headers = dict(headers)
    if last_event_id is not None:
        request_headers["Last-Event-ID"] = last_event_id
    received: list[Event] = []
    async with client.stream("GET", url, headers=request_headers, timeout=60) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in events(response):
            received.append(event)
            if stop_after is not None and len(received) >= stop_after:
                break
    return received


def text_of(received: list[Event]) -> str:
    return "".join(e.data["text"] for e in received if e.event == "delta")

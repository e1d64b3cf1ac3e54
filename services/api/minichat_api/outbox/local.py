"""The all-in-one mode's publisher: outbox rows go to an in-process consumer, no broker.

`minichat up` wires the worker's own apply code in as `deliver`; the api never imports the
worker. Delivery is synchronous (it runs in a thread): returning means applied, raising means
nothing is marked sent and the relay tries the batch again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

from minichat_api.outbox.rows import OutboxRow

Deliver = Callable[[Sequence[tuple[str, dict[str, Any]]]], None]


class LocalPublisher:
    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, rows: Sequence[OutboxRow]) -> list[BaseException | None]:
        messages = [(row.event_type, json.loads(row.payload)) for row in rows]
        try:
            await asyncio.to_thread(self._deliver, messages)
        except Exception as exc:
            return [exc] * len(rows)
        return [None] * len(rows)

    async def close(self) -> None:
        return None

"""An outbox row as the relay hands it to a publisher, and what every publisher does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboxRow:
    id: uuid.UUID
    event_type: str
    # The event's JSON text exactly as stored.
    payload: str


class Publisher(Protocol):
    async def publish(self, rows: Sequence[OutboxRow]) -> list[BaseException | None]:
        """Deliver `rows`; for each, None once it is safely delivered, or why it is not."""
        ...

    async def close(self) -> None: ...

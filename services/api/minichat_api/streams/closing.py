"""The events that close a generation's stream, wherever the end is decided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minichat.statuses import GenerationStatus


@dataclass(frozen=True)
class Ending:
    """How a generation ended, as its closing events tell it."""

    status: GenerationStatus
    error: tuple[str, str] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return final_events(self.status, self.error, self.prompt_tokens, self.completion_tokens)


def final_events(
    status: GenerationStatus,
    error: tuple[str, str] | None,
    prompt_tokens: int,
    completion_tokens: int,
) -> list[tuple[str, dict[str, Any]]]:
    """The events that close a stream: `error` when it failed, then `usage`, then `done`."""
    events: list[tuple[str, dict[str, Any]]] = []
    if error is not None:
        events.append(("error", {"code": error[0], "message": error[1]}))
    events.append(
        ("usage", {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens})
    )
    events.append(("done", {"status": status.value}))
    return events

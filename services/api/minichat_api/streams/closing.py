"""The events that close a generation's stream, wherever the end is decided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minichat.statuses import FinishReason, GenerationStatus


@dataclass(frozen=True)
class Ending:
    """How a generation ended, as its closing events tell it."""

    status: GenerationStatus
    error: tuple[str, str] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: FinishReason | None = None

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return final_events(
            self.status, self.error, self.prompt_tokens, self.completion_tokens, self.finish_reason
        )


def final_events(
    status: GenerationStatus,
    error: tuple[str, str] | None,
    prompt_tokens: int,
    completion_tokens: int,
    finish_reason: FinishReason | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The events that close a stream: `error` when it failed, then `usage`, then `done`, which
    says `finish_reason: "length"` of an answer the token limit cut."""
    events: list[tuple[str, dict[str, Any]]] = []
    if error is not None:
        events.append(("error", {"code": error[0], "message": error[1]}))
    events.append(
        ("usage", {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens})
    )
    done: dict[str, Any] = {"status": status.value}
    if finish_reason == FinishReason.LENGTH:
        done["finish_reason"] = finish_reason.value
    events.append(("done", done))
    return events

"""Where a generation's answer stands: one record for a job, its checkpoints and an adopter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """What a generation has streamed: its text, its completion tokens and its time to first
    token."""

    text: str = ""
    # The index of its next delta: known from its stream, not kept in a checkpoint.
    next_index: int = 0
    completion_tokens: int = 0
    ttft_ms: float | None = None

"""The closed sets of values stored in status and role columns, and the generation state machine."""

from __future__ import annotations

from enum import StrEnum


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    # A generation that failed or was canceled keeps the text it had.
    INCOMPLETE = "incomplete"


class FinishReason(StrEnum):
    """Why the model stopped an answer that ended on its own (OpenAI's `finish_reason`)."""

    STOP = "stop"
    # Cut by the token limit: the answer can be continued.
    LENGTH = "length"


class GenerationStatus(StrEnum):
    QUEUED = "queued"
    STREAMING = "streaming"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.CANCELED}
)

# Which states a generation may move to from each state. Terminal states have no way out.
ALLOWED_TRANSITIONS: dict[GenerationStatus, frozenset[GenerationStatus]] = {
    GenerationStatus.QUEUED: frozenset(
        {GenerationStatus.STREAMING, GenerationStatus.CANCELED, GenerationStatus.FAILED}
    ),
    GenerationStatus.STREAMING: TERMINAL_STATUSES,
    GenerationStatus.SUCCEEDED: frozenset(),
    GenerationStatus.FAILED: frozenset(),
    GenerationStatus.CANCELED: frozenset(),
}


def sources_of(target: GenerationStatus) -> frozenset[GenerationStatus]:
    """The states from which `target` can be reached: the guard of a transition's UPDATE."""
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def sql_in(values: type[StrEnum] | frozenset[GenerationStatus]) -> str:
    """`'a', 'b'` for CHECK constraints, in a stable order."""
    return ", ".join(f"'{v}'" for v in sorted(str(v) for v in values))

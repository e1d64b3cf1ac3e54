"""The generation state machine: terminal states are final, every state is reachable."""

from __future__ import annotations

from minichat.statuses import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATUSES,
    GenerationStatus,
    sources_of,
)


def test_terminal_states_have_no_way_out() -> None:
    for status in TERMINAL_STATUSES:
        assert status.is_terminal
        assert ALLOWED_TRANSITIONS[status] == frozenset()


def test_guards_of_each_transition() -> None:
    assert sources_of(GenerationStatus.STREAMING) == {GenerationStatus.QUEUED}
    assert sources_of(GenerationStatus.SUCCEEDED) == {GenerationStatus.STREAMING}
    assert sources_of(GenerationStatus.CANCELED) == {
        GenerationStatus.QUEUED,
        GenerationStatus.STREAMING,
    }
    assert sources_of(GenerationStatus.FAILED) == {
        GenerationStatus.QUEUED,
        GenerationStatus.STREAMING,
    }
    assert sources_of(GenerationStatus.QUEUED) == frozenset()

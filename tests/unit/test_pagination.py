"""Cursors round-trip their keys and refuse anything they did not produce."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from minichat.errors import InvalidInput
from minichat_api.pagination import decode_cursor, encode_cursor, sequence_number


def test_round_trip() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    key = uuid.uuid4()
    cursor = encode_cursor(when.isoformat(), key)
    assert "=" not in cursor
    assert decode_cursor(cursor, datetime.fromisoformat, uuid.UUID) == (when, key)


@pytest.mark.parametrize("cursor", ["", "%%%", encode_cursor(1, 2), encode_cursor("x")])
def test_foreign_cursors_are_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(cursor, int)
    assert caught.value.field == "cursor"


@pytest.mark.parametrize(
    ("key", "converters"),
    [
        ([float("inf")], (sequence_number,)),  # JSON `[Infinity]`
        ([2**31], (sequence_number,)),
        ([-1], (sequence_number,)),
        ([10**30], (sequence_number,)),
        ([True], (sequence_number,)),
        ([1.5], (sequence_number,)),
        (["2024-01-01T00:00:00+00:00", 5], (datetime.fromisoformat, uuid.UUID)),
        ([5, str(uuid.uuid4())], (datetime.fromisoformat, uuid.UUID)),
    ],
)
def test_well_formed_cursors_out_of_range_are_invalid_input(
    key: list[object], converters: tuple[object, ...]
) -> None:
    """Keys the database would refuse, or a converter would choke on, are a 400, not a 500."""
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor(*key), *converters)  # type: ignore[arg-type]


def test_sequence_number_round_trip() -> None:
    assert decode_cursor(encode_cursor(2**31 - 1), sequence_number) == (2**31 - 1,)

"""Cursors round-trip their keys and refuse anything they did not produce."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from minichat.errors import InvalidInput
from minichat_api.pagination import decode_cursor, encode_cursor


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

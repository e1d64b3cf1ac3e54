"""Opaque keyset cursors: the position after the last item of a page, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from minichat.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def sequence_number(value: Any) -> int:
    """A cursor's integer key, within the database's 32-bit integer column."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError(f"{value!r} is not a sequence number")
    return value


def encode_cursor(*key: Any) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *converters: Callable[[Any], Any]) -> tuple[Any, ...]:
    """The key fields of `cursor`, each passed through its converter; a 400 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(converters):
            raise ValueError("wrong shape")
        return tuple(convert(value) for convert, value in zip(converters, values, strict=True))
    except (
        ValueError,
        TypeError,
        AttributeError,  # uuid.UUID(5)
        OverflowError,  # int(Infinity)
        binascii.Error,
        UnicodeDecodeError,
    ) as exc:
        raise InvalidInput(
            "cursor is not one this API returned", field="cursor", code="invalid_cursor"
        ) from exc

"""Password hashing and access tokens, without the HTTP layer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from minichat.errors import Unauthenticated
from minichat_api.security import (
    AccessTokens,
    hash_password,
    hash_refresh_token,
    new_refresh_token,
    verify_password,
)

SECRET = "s" * 64


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("hunter2hunter2")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "hunter2hunter2")
    assert not verify_password(hashed, "hunter3hunter3")
    assert not verify_password("not a hash", "hunter2hunter2")


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    token, stored = new_refresh_token()
    other, _ = new_refresh_token()
    assert token != other
    assert stored == hash_refresh_token(token)
    assert token not in stored


def test_access_token_round_trip() -> None:
    tokens = AccessTokens(SECRET, ttl_seconds=60)
    user_id = uuid.uuid4()
    issued = tokens.issue(user_id)
    assert issued.expires_in == 60
    assert tokens.verify(issued.token) == user_id


def test_expired_access_token() -> None:
    tokens = AccessTokens(SECRET, ttl_seconds=60)
    old = tokens.issue(uuid.uuid4(), now=datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify(old.token)
    assert caught.value.code == "token_expired"


def test_token_from_another_secret_is_refused() -> None:
    issued = AccessTokens("o" * 64, ttl_seconds=60).issue(uuid.uuid4())
    with pytest.raises(Unauthenticated):
        AccessTokens(SECRET, ttl_seconds=60).verify(issued.token)

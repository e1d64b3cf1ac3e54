"""Password hashing and access tokens, without the HTTP layer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from minichat.errors import Unauthenticated
from minichat_api.revocations import MemoryRevokedSessions
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


def _tokens(secret: str = SECRET, ttl_seconds: int = 60) -> AccessTokens:
    return AccessTokens(secret, ttl_seconds, MemoryRevokedSessions(ttl_seconds=ttl_seconds))


def _refused(tokens: AccessTokens, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify(token)
    return caught.value.code


def test_access_token_round_trip() -> None:
    tokens = _tokens()
    user_id = uuid.uuid4()
    issued = tokens.issue(user_id, uuid.uuid4())
    assert issued.expires_in == 60
    assert tokens.verify(issued.token) == user_id


def test_expired_access_token() -> None:
    tokens = _tokens()
    old = tokens.issue(uuid.uuid4(), uuid.uuid4(), now=datetime.now(UTC) - timedelta(minutes=5))
    assert _refused(tokens, old.token) == "token_expired"


def test_token_from_another_secret_is_refused() -> None:
    issued = _tokens("o" * 64).issue(uuid.uuid4(), uuid.uuid4())
    assert _refused(_tokens(), issued.token) == "invalid_token"


def _claims(**changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(hours=2),
        "iss": "minichat",
        "typ": "access",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(_claims(sub=None), id="no sub"),
        pytest.param(_claims(sid=None), id="no session"),
        pytest.param(_claims(sub="not-a-uuid"), id="sub not a uuid"),
        pytest.param(_claims(sub=7), id="sub a number"),
        pytest.param(_claims(iat=datetime.now(UTC) + timedelta(hours=1)), id="issued later"),
        pytest.param(_claims(typ="refresh"), id="another type"),
        pytest.param(_claims(iss="someone-else"), id="another issuer"),
    ],
)
def test_a_token_with_wrong_claims_is_refused(claims: dict[str, object]) -> None:
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    assert _refused(_tokens(), token) == "invalid_token"


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode(_claims(), None, algorithm="none")
    assert _refused(_tokens(), token) == "invalid_token"


def test_a_token_signed_with_another_algorithm_is_refused() -> None:
    token = jwt.encode(_claims(), SECRET, algorithm="HS512")
    assert _refused(_tokens(), token) == "invalid_token"


def test_a_refresh_token_is_not_an_access_token() -> None:
    refresh_token, _stored = new_refresh_token()
    assert _refused(_tokens(), refresh_token) == "invalid_token"


async def test_a_revoked_session_s_tokens_are_refused_and_others_are_not() -> None:
    revoked = MemoryRevokedSessions(ttl_seconds=60)
    tokens = AccessTokens(SECRET, 60, revoked)
    user_id, signed_out, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    gone = tokens.issue(user_id, signed_out)
    kept = tokens.issue(user_id, other)
    await revoked.revoke(signed_out)
    assert _refused(tokens, gone.token) == "session_revoked"
    assert tokens.verify(kept.token) == user_id

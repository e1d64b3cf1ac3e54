"""Passwords (argon2id), access tokens (JWT, HS256 pinned) and opaque refresh tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Protocol, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from minichat.errors import RateLimited, Unauthenticated

T = TypeVar("T")

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "minichat"
_ACCESS_TOKEN_TYPE = "access"

# argon2-cffi's defaults are RFC 9106's low-memory profile of argon2id.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    """Spend the time of a real check, so an unknown email answers as slowly as a wrong password."""
    verify_password(_dummy_hash(), password)


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token and the hash under which it is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


class Revocations(Protocol):
    def is_revoked(self, session_id: uuid.UUID) -> bool: ...


class AccessTokens:
    """Issues and verifies access JWTs with one secret and a pinned algorithm. Each names its
    session (`sid`: the refresh-token family its login started), which `revoked` may list as
    signed out before the token expires."""

    def __init__(self, secret: str, ttl_seconds: int, revoked: Revocations) -> None:
        self._secret = secret
        self._ttl = ttl_seconds
        self._revoked = revoked

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime | None = None
    ) -> AccessToken:
        issued_at = now or datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": issued_at,
            "exp": issued_at + timedelta(seconds=self._ttl),
            "iss": JWT_ISSUER,
            "typ": _ACCESS_TOKEN_TYPE,
        }
        return AccessToken(jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM), self._ttl)

    def verify(self, token: str) -> uuid.UUID:
        """The user id the token was issued to; `Unauthenticated` for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                issuer=JWT_ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "sid"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("access token expired", code="token_expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("invalid access token", code="invalid_token") from exc
        if claims.get("typ") != _ACCESS_TOKEN_TYPE:
            raise Unauthenticated("invalid access token", code="invalid_token")
        try:
            user_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
        except (ValueError, TypeError, AttributeError) as exc:
            raise Unauthenticated("invalid access token", code="invalid_token") from exc
        if self._revoked.is_revoked(session_id):
            raise Unauthenticated(
                "this session was signed out; log in again", code="session_revoked"
            )
        return user_id


class PasswordWork:
    """Runs password hashing (tens of ms of CPU each) on threads, `concurrency` at a time with
    at most `max_waiting` more waiting: a flood of logins (say, for emails that do not exist)
    gets quick 429s instead of making every login wait, and leaves the threads other work
    needs."""

    def __init__(self, *, concurrency: int, max_waiting: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._max_waiting = max_waiting
        self._waiting = 0

    async def run(self, work: Callable[..., T], *args: str) -> T:
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise RateLimited(
                "the server is busy checking passwords; try again in a second",
                retry_after_seconds=1,
                code="server_busy",
            )
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self._slots.release()

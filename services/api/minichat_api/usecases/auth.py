"""Registration, login with throttling, refresh-token rotation with reuse detection, logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.db.models import LoginFailure, RefreshToken, User
from minichat.errors import Conflict, RateLimited, Unauthenticated
from minichat_api import security
from minichat_api.revocations import RevokedSessions
from minichat_api.security import AccessTokens, PasswordWork
from minichat_api.usecases import audit
from minichat_api.usecases.audit import RequestContext


@dataclass(frozen=True)
class AuthPolicy:
    refresh_ttl: timedelta
    max_login_failures: int
    failure_window: timedelta
    passwords: PasswordWork


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


async def register(
    session: AsyncSession,
    tokens: AccessTokens,
    policy: AuthPolicy,
    *,
    email: str,
    password: str,
    display_name: str | None,
    context: RequestContext,
) -> IssuedTokens:
    email = normalize_email(email)
    password_hash = await policy.passwords.run(security.hash_password, password)
    user = User(
        email=email,
        password_hash=password_hash,
        display_name=display_name or email.split("@", 1)[0],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(
            "an account with this email already exists", field="email", code="email_taken"
        ) from exc
    issued = await _start_family(session, tokens, policy, user)
    audit.record(
        session, context, actor=user.id, action="user.registered", target=f"user:{user.id}"
    )
    await session.commit()
    return issued


async def login(
    session: AsyncSession,
    tokens: AccessTokens,
    policy: AuthPolicy,
    *,
    email: str,
    password: str,
    context: RequestContext,
) -> IssuedTokens:
    email = normalize_email(email)
    throttle_key = f"{email}|{context.client}"
    await _count_attempt(session, policy, throttle_key)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        await policy.passwords.run(security.burn_password_check, password)
        valid = False
    else:
        valid = await policy.passwords.run(security.verify_password, user.password_hash, password)
    if user is None or not valid:
        raise Unauthenticated("invalid email or password", code="invalid_credentials")
    await session.execute(delete(LoginFailure).where(LoginFailure.key == throttle_key))
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = await policy.passwords.run(security.hash_password, password)
    issued = await _start_family(session, tokens, policy, user)
    audit.record(session, context, actor=user.id, action="user.login", target=f"user:{user.id}")
    await session.commit()
    return issued


async def refresh(
    session: AsyncSession,
    tokens: AccessTokens,
    policy: AuthPolicy,
    revoked: RevokedSessions,
    *,
    refresh_token: str,
) -> IssuedTokens:
    """New tokens for a refresh token, which is spent. A spent one presented again (stolen,
    or replayed) signs its whole session out: refresh tokens and access tokens alike."""
    now = datetime.now(UTC)
    token_hash = security.hash_refresh_token(refresh_token)
    stored = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if stored is None or stored.revoked_at is not None:
        raise Unauthenticated("invalid refresh token", code="invalid_refresh_token")
    if stored.expires_at <= now:
        raise Unauthenticated("refresh token expired", code="refresh_token_expired")
    # The guard makes rotation single-use even when two requests race with the same token.
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await _revoke_family(session, stored.family_id, now)
        await session.commit()
        await revoked.revoke(stored.family_id)
        raise Unauthenticated(
            "refresh token was already used; every session of this login is signed out",
            code="refresh_token_reused",
        )
    user = await session.get_one(User, stored.user_id)
    issued = await _issue(session, tokens, policy, user, stored.family_id)
    await session.commit()
    return issued


async def logout(session: AsyncSession, revoked: RevokedSessions, *, refresh_token: str) -> None:
    """Sign out the session of `refresh_token`: its refresh tokens and its access tokens;
    unknown tokens are ignored (logout is idempotent)."""
    token_hash = security.hash_refresh_token(refresh_token)
    stored = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if stored is not None:
        await _revoke_family(session, stored.family_id, datetime.now(UTC))
        await session.commit()
        await revoked.revoke(stored.family_id)


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def _count_attempt(session: AsyncSession, policy: AuthPolicy, key: str) -> None:
    """Record the attempt as a failure before the password is checked (a success deletes the
    record), then count: of attempts racing in parallel each sees at least those committed
    before it, so no more than `max_login_failures` ever reach the password check, and every
    one of them counts."""
    now = datetime.now(UTC)
    window_start = now - policy.failure_window
    await session.execute(delete(LoginFailure).where(LoginFailure.created_at < window_start))
    session.add(LoginFailure(key=key))
    await session.commit()
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(LoginFailure.created_at)).where(
                LoginFailure.key == key, LoginFailure.created_at >= window_start
            )
        )
    ).one()
    if count > policy.max_login_failures and oldest is not None:
        await session.commit()
        oldest_utc = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        retry_after = max(1, int((oldest_utc + policy.failure_window - now).total_seconds()) + 1)
        raise RateLimited(
            "too many failed logins; try again later",
            retry_after_seconds=retry_after,
            code="too_many_login_attempts",
        )


async def _start_family(
    session: AsyncSession, tokens: AccessTokens, policy: AuthPolicy, user: User
) -> IssuedTokens:
    return await _issue(session, tokens, policy, user, family_id=uuid.uuid4())


async def _issue(
    session: AsyncSession,
    tokens: AccessTokens,
    policy: AuthPolicy,
    user: User,
    family_id: uuid.UUID,
) -> IssuedTokens:
    refresh_token, token_hash = security.new_refresh_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=token_hash,
            expires_at=datetime.now(UTC) + policy.refresh_ttl,
        )
    )
    access = tokens.issue(user.id, family_id)
    return IssuedTokens(user, access.token, refresh_token, access.expires_in)


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )

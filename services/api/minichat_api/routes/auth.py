"""/api/auth: register, login, refresh, logout, me."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from minichat_api.deps import CurrentUser, RequestContextDep, SessionDep, StateDep
from minichat_api.schemas.auth import (
    AuthSession,
    LoginRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserPublic,
)
from minichat_api.schemas.common import ErrorBody
from minichat_api.usecases import auth
from minichat_api.usecases.auth import IssuedTokens

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _session_of(issued: IssuedTokens) -> AuthSession:
    return AuthSession(
        user=UserPublic.model_validate(issued.user),
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": ErrorBody, "description": "email already registered"},
        429: {"model": ErrorBody, "description": "too many registrations from this address"},
    },
)
async def register(
    body: UserCreate, session: SessionDep, state: StateDep, context: RequestContextDep
) -> AuthSession:
    await state.fair_use.check_registration(context.client)
    issued = await auth.register(
        session,
        state.access_tokens,
        state.auth_policy,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        context=context,
    )
    return _session_of(issued)


@router.post(
    "/login",
    responses={
        401: {"model": ErrorBody, "description": "wrong email or password"},
        429: {
            "model": ErrorBody,
            "description": "too many failed attempts, logins from this address, or password "
            "checks waiting",
        },
    },
)
async def login(
    body: LoginRequest, session: SessionDep, state: StateDep, context: RequestContextDep
) -> AuthSession:
    await state.fair_use.check_login(context.client)
    issued = await auth.login(
        session,
        state.access_tokens,
        state.auth_policy,
        email=body.email,
        password=body.password,
        context=context,
    )
    return _session_of(issued)


@router.post("/refresh", responses={401: {"model": ErrorBody}})
async def refresh(body: RefreshRequest, session: SessionDep, state: StateDep) -> TokenPair:
    issued = await auth.refresh(
        session,
        state.access_tokens,
        state.auth_policy,
        state.revoked_sessions,
        refresh_token=body.refresh_token,
    )
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(body: RefreshRequest, session: SessionDep, state: StateDep) -> None:
    """Sign the session out: its refresh token at once, its access tokens within seconds on
    every api process."""
    await auth.logout(session, state.revoked_sessions, refresh_token=body.refresh_token)


@router.get("/me", responses={401: {"model": ErrorBody}})
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)

"""Dependency aliases, so routes read like prose: `session: SessionDep, user: CurrentUser`.

Every dependency is `async def`, even those that never await: FastAPI runs a plain `def` in
its thread pool, a thread hop per request for nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from minichat import tracing
from minichat.db.models import User
from minichat.errors import Unauthenticated
from minichat_api.state import AppState
from minichat_api.usecases.audit import RequestContext


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.minichat
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _authenticate(state: AppState, session: AsyncSession, credentials: Credentials) -> User:
    if credentials is None:
        raise Unauthenticated("missing bearer token in the Authorization header")
    user_id = state.access_tokens.verify(credentials.credentials)
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthenticated("the account of this token no longer exists", code="invalid_token")
    return user


async def get_current_user(state: StateDep, session: SessionDep, credentials: Credentials) -> User:
    return await _authenticate(state, session, credentials)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_user_id(state: StateDep, credentials: Credentials) -> uuid.UUID:
    """The id in a valid access token, without a database lookup: access tokens are short-lived
    and accounts are never deleted, so the signature is enough for owner-scoped routes."""
    if credentials is None:
        raise Unauthenticated("missing bearer token in the Authorization header")
    return state.access_tokens.verify(credentials.credentials)


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


async def request_context(request: Request, client: ClientAddress) -> RequestContext:
    return RequestContext(
        client=client,
        user_agent=request.headers.get("user-agent"),
        # This request's span when tracing, so its events join its trace; else the caller's.
        traceparent=tracing.traceparent() or request.headers.get("traceparent"),
    )


RequestContextDep = Annotated[RequestContext, Depends(request_context)]

"""/api/usage: the signed-in user's usage aggregates by UTC day and model."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from minichat_api.deps import CurrentUserId, SessionDep
from minichat_api.schemas.common import ErrorBody
from minichat_api.schemas.usage import UsagePublic, UsagesPublic
from minichat_api.usecases import usage

router = APIRouter(
    prefix="/api/usage",
    tags=["usage"],
    responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}},
)

From = Annotated[
    date | None,
    Query(alias="from", description="first UTC day (YYYY-MM-DD), default 29 days before `to`"),
]
To = Annotated[
    date | None, Query(alias="to", description="last UTC day (YYYY-MM-DD), default today")
]


@router.get("")
async def get_usage(
    session: SessionDep, user_id: CurrentUserId, start: From = None, end: To = None
) -> UsagesPublic:
    first, last = usage.day_range(start, end)
    rows = await usage.usage_by_day(session, user_id, first, last)
    return UsagesPublic(items=[UsagePublic.model_validate(row) for row in rows])

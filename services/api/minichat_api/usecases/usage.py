"""Usage: the caller's aggregates, as the worker wrote them, for a range of UTC days."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from minichat.db.models import UsageDaily
from minichat.errors import InvalidInput

DEFAULT_DAYS = 30


def day_range(
    start: date | None, end: date | None, *, today: date | None = None
) -> tuple[date, date]:
    """The inclusive range asked for; missing ends make it the last DEFAULT_DAYS days."""
    today = today or datetime.now(UTC).date()
    if end is None:
        end = max(today, start) if start is not None else today
    if start is None:
        # Near year 1 the range is cut at the calendar's first day, not a 500.
        start = end - timedelta(days=min(DEFAULT_DAYS - 1, (end - date.min).days))
    if start > end:
        raise InvalidInput("`from` must not be after `to`", field="from", code="invalid_range")
    return start, end


async def usage_by_day(
    session: AsyncSession, user_id: uuid.UUID, start: date, end: date
) -> Sequence[UsageDaily]:
    rows = await session.scalars(
        select(UsageDaily)
        .where(UsageDaily.user_id == user_id, UsageDaily.day >= start, UsageDaily.day <= end)
        .order_by(UsageDaily.day, UsageDaily.model)
    )
    return rows.all()

"""Deleting old rows a batch at a time, so a large backlog never holds one long transaction or
locks a table for long: the outbox's sent rows (the relay) and processed event ids (the worker)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Delete, delete, select
from sqlalchemy.orm import InstrumentedAttribute

from minichat.db.base import Base

# Rows per DELETE; each batch commits on its own.
PRUNE_BATCH = 1000


def prune_batch(
    model: type[Base],
    key: InstrumentedAttribute[Any],
    moment: InstrumentedAttribute[Any],
    before: datetime,
    *,
    limit: int = PRUNE_BATCH,
) -> Delete:
    """DELETE up to `limit` rows of `model` whose `moment` is before `before` (a NULL moment
    is never pruned), found by an index on `moment`; the same SQL on PostgreSQL and SQLite."""
    old: ColumnElement[bool] = moment < before
    oldest = select(key).where(old).order_by(moment).limit(limit)
    return delete(model).where(key.in_(oldest.scalar_subquery()))

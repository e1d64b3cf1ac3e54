"""The per-user bound on open feeds: counted while a feed is open, released however it ends."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator

import pytest

from minichat.errors import RateLimited
from minichat_api.streams.per_user import FeedsPerUser


async def _feed() -> AsyncIterator[bytes]:
    yield b"data: 1\n\n"
    yield b"data: 2\n\n"


async def test_a_user_at_the_limit_is_refused_until_a_feed_ends() -> None:
    feeds = FeedsPerUser(limit=2)
    user, other = uuid.uuid4(), uuid.uuid4()
    first, second = feeds.open(user, _feed()), feeds.open(user, _feed())
    with pytest.raises(RateLimited) as refused:
        feeds.open(user, _feed())
    assert refused.value.code == "too_many_streams"
    theirs = feeds.open(other, _feed())  # the limit is each user's own

    assert [chunk async for chunk in first] == [b"data: 1\n\n", b"data: 2\n\n"]
    assert feeds.open_for(user) == 1
    third = feeds.open(user, _feed())
    assert feeds.open_for(user) == 2
    assert second is not third and theirs is not None


async def test_a_feed_closed_early_or_never_started_is_released() -> None:
    feeds = FeedsPerUser(limit=1)
    user = uuid.uuid4()
    closed_early = feeds.open(user, _feed())
    await anext(closed_early)
    await closed_early.aclose()  # type: ignore[attr-defined]
    assert feeds.open_for(user) == 0

    never_started = feeds.open(user, _feed())
    del never_started
    gc.collect()
    assert feeds.open_for(user) == 0

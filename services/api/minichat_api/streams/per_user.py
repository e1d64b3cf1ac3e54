"""How many SSE feeds one user holds open on this api process: bounded, so one client opening
feeds in a loop cannot take every socket and feed task of the process."""

from __future__ import annotations

import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable

from minichat.errors import RateLimited

# A client's next try is likely to find a feed closed by then (an answer ends in seconds).
RETRY_AFTER_SECONDS = 5


class FeedsPerUser:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[uuid.UUID] = Counter()

    def open(self, user_id: uuid.UUID, feed: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`feed`, counted against the user's limit until it ends; 429 when the user is at it."""
        if self._open[user_id] >= self.limit:
            raise RateLimited(
                f"at most {self.limit} answer streams may be open at once; close one first",
                retry_after_seconds=RETRY_AFTER_SECONDS,
                code="too_many_streams",
            )
        self._open[user_id] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[user_id] -= 1
                if self._open[user_id] <= 0:
                    del self._open[user_id]

        counted = _released_at_end(feed, release)
        # A feed the server never started (its client left at once) is released when dropped.
        weakref.finalize(counted, release)
        return counted

    def open_for(self, user_id: uuid.UUID) -> int:
        return self._open[user_id]


async def _released_at_end(
    feed: AsyncIterator[bytes], release: Callable[[], None]
) -> AsyncIterator[bytes]:
    try:
        async for chunk in feed:
            yield chunk
    finally:
        release()

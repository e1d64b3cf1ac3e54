"""Small asyncio helpers: stopping background tasks for certain, settling a signal once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel until each task has ended: redis-py (and some network clients) can swallow a
    cancel that lands mid-command, and a single cancel would then leave the task running."""
    pending = {task for task in tasks if task is not None and not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.5)


def resolve(signal: asyncio.Future[None]) -> None:
    """Set a one-shot signal; a no-op once it is set."""
    if not signal.done():
        signal.set_result(None)

"""Waiting for a condition the code under test reaches on its own: the one poll loop of the
tests. A timeout here is a deadline for a hang, never a measurement."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import pytest

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    within: float = ...,
    *,
    interval: float = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None], what: str, within: float = ..., *, interval: float = ...
) -> T: ...


async def eventually(
    check: Callable[[], Any], what: str, within: float = 60.0, *, interval: float = 0.02
) -> Any:
    """The first truthy result of `check` (a function or a coroutine function), called until it
    gives one; the test fails naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(interval)


def eventually_blocking(
    check: Callable[[], T | None], what: str, within: float = 60.0, *, interval: float = 0.1
) -> T:
    """`eventually` for code outside an event loop (processes, the Kubernetes tests)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:g}s waiting for {what}")
        time.sleep(interval)

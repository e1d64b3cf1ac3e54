"""Fixtures for generations: scripted inference processes and api clients wired to them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from minichat_api.main import create_app
from minichat_api.settings import ApiSettings
from tests.processes import Service, free_port, serve

FAST_TOKENS = 24
SLOW_TOKENS = 400


def scripted_env(tokens: int, interval_ms: float) -> dict[str, str]:
    return {
        "INFERENCE_BACKEND": "scripted",
        "INFERENCE_SCRIPTED_TOKENS": str(tokens),
        "INFERENCE_SCRIPTED_INTERVAL_MS": str(interval_ms),
        "INFERENCE_MAX_CONCURRENCY": "64",
        "INFERENCE_MAX_QUEUE": "64",
    }


@pytest.fixture(scope="session")
def fast_inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A scripted model answering FAST_TOKENS words, 2 ms apart."""
    logs = tmp_path_factory.mktemp("fast-inference")
    with serve(["inference"], scripted_env(FAST_TOKENS, 2), logs) as service:
        yield service


@pytest.fixture(scope="session")
def slow_inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A scripted model answering SLOW_TOKENS words, 25 ms apart: long enough to interrupt."""
    logs = tmp_path_factory.mktemp("slow-inference")
    with serve(["inference"], scripted_env(SLOW_TOKENS, 25), logs) as service:
        yield service


@asynccontextmanager
async def running_api(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A real api on a loopback port, in this event loop: true streaming and disconnects."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        await task


@pytest.fixture(params=["redis", "memory"])
async def fast_client(
    request: pytest.FixtureRequest, settings: ApiSettings, fast_inference: Service
) -> AsyncIterator[httpx.AsyncClient]:
    """An api on the fast model, with its streams in Redis or (all-in-one) in memory."""
    update = {"inference_url": fast_inference.url}
    if request.param == "memory":
        update["redis_url"] = "memory://"
    async with running_api(settings.model_copy(update=update)) as http:
        yield http


@pytest.fixture
async def fast_redis_client(
    settings: ApiSettings, fast_inference: Service
) -> AsyncIterator[httpx.AsyncClient]:
    """An api on the fast model with its streams in Redis, for tests that reach into Redis."""
    async with running_api(
        settings.model_copy(update={"inference_url": fast_inference.url})
    ) as http:
        yield http


@pytest.fixture
async def slow_client(
    settings: ApiSettings, slow_inference: Service
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_api(
        settings.model_copy(update={"inference_url": slow_inference.url})
    ) as http:
        yield http


@pytest.fixture
def client_settings_unreachable(settings: ApiSettings) -> ApiSettings:
    """ApiSettings whose inference URL refuses connections at once."""
    return settings.model_copy(update={"inference_model": "any"})

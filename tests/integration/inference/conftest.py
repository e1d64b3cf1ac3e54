"""Fixtures for the inference plane: apps on each backend, a live uvicorn server, the real model
(loaded once per session) and a real `python -m llama_cpp.server` upstream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from minichat_inference.backends import Backend
from minichat_inference.backends.embedded import EmbeddedBackend
from minichat_inference.main import create_app
from minichat_inference.model_store import default_cache_dir, ensure_model
from minichat_inference.settings import InferenceSettings
from minichat_inference.state import InferenceState
from tests.conftest import in_process
from tests.processes import free_port, stop

# Two threads is what the CI machine has; fewer makes the model tests slower, more no faster.
MODEL_THREADS = 2


def inference_settings(**overrides: Any) -> InferenceSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "inference_backend": "scripted",
        "inference_scripted_tokens": 8,
        "inference_scripted_interval_ms": 0,
        "inference_max_concurrency": 4,
        "inference_max_queue": 4,
    }
    values.update(overrides)
    return InferenceSettings(**values)


@asynccontextmanager
async def app_client(
    settings: InferenceSettings, backend: Backend | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """An in-process client of a real inference app (its lifespan run)."""
    app = create_app(settings, backend)
    async with in_process(app) as http:
        yield http, app


@asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """The app under a real uvicorn on a free port in this loop, so disconnects are real TCP
    disconnects and the test can still look inside the app."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await task


def state_of(app: FastAPI) -> InferenceState:
    state: InferenceState = app.state.inference
    return state


@pytest.fixture(scope="session")
def model_file() -> Path:
    return ensure_model(default_cache_dir(os.environ.get("MODEL_CACHE_DIR")))


@pytest.fixture(scope="session")
async def embedded_backend(model_file: Path) -> AsyncIterator[EmbeddedBackend]:
    """The real Gemma model, loaded once for the whole run and shared by every embedded app."""
    backend = EmbeddedBackend(model_file.parent, MODEL_THREADS)
    await backend.start()
    yield backend
    await backend.close()
    # llama-cpp-python opens two /dev/null handles at import and never closes them, which
    # warns at interpreter exit; nothing in this process runs the model after this point.
    from llama_cpp import _utils

    _utils.outnull_file.close()
    _utils.errnull_file.close()


@pytest.fixture(scope="session")
def llama_server(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on the same GGUF: a real upstream."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_file),
        "--model_alias", "gemma-upstream",
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1",
        # Gemma's own chat template makes this base model end its turn at once; a plain
        # transcript format gets words out of it.
        "--chat_format", "vicuna",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/v1/models", process, log)
        yield url
    finally:
        stop(process)


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited early:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"llama_cpp.server not up after {timeout}s:\n{log.read_text(errors='replace')}")

"""Fixtures for api tests that need answers: a scripted model slow enough to be caught running."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from minichat_api.main import create_app
from minichat_api.settings import ApiSettings
from tests.conftest import in_process
from tests.eventually import eventually
from tests.factories import Account, start_generation
from tests.integration.generations.conftest import SLOW_TOKENS, scripted_env
from tests.processes import Service, serve


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A scripted model answering SLOW_TOKENS words, 25 ms apart (10 s): still running when
    a test looks at it."""
    logs = tmp_path_factory.mktemp("api-slow-inference")
    with serve(["inference"], scripted_env(SLOW_TOKENS, 25), logs) as service:
        yield service


@pytest.fixture
async def answering(settings: ApiSettings, slow_model: Service) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process api whose generations run on the slow scripted model."""
    app = create_app(settings.model_copy(update={"inference_url": slow_model.url}))
    async with in_process(app) as http:
        yield http


async def ended_generation(client: httpx.AsyncClient, account: Account) -> dict[str, object]:
    """A generation of `account`, canceled by its owner: ended, its stream closed by `done`."""
    generation = await start_generation(client, account)
    url = f"/api/generations/{generation['id']}"
    canceled = await client.post(f"{url}/cancel", headers=account.headers)
    assert canceled.status_code == 200, canceled.text

    # The cancel answers the state it finds after waiting a while for the runner; on a busy
    # machine that can still be `streaming`.
    async def ended() -> dict[str, object] | None:
        current: dict[str, object] = (await client.get(url, headers=account.headers)).json()
        return current if current["status"] == "canceled" else None

    return await eventually(ended, "the canceled generation to end", 30)


async def documented_operations(client: httpx.AsyncClient) -> dict[tuple[str, str], bool]:
    """Every (method, path) the api documents, and whether it takes a bearer token."""
    document = (await client.get("/api/openapi.json")).json()
    return {
        (method.upper(), path): "security" in operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }

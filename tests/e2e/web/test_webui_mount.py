"""The api serves the built UI: files, the SPA fallback, and JSON 404s kept under /api."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from minichat_api.settings import ApiSettings
from minichat_api.main import create_app
from tests.conftest import in_process


@pytest.fixture
async def ui_client(settings: ApiSettings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>MiniChat</title>")
    (tmp_path / "assets" / "app-abc123.js").write_text("console.log(1)")
    app = create_app(settings.model_copy(update={"web_dist_dir": str(tmp_path)}))
    async with in_process(app) as http:
        yield http


async def test_index_and_assets_are_served(ui_client: httpx.AsyncClient) -> None:
    index = await ui_client.get("/")
    assert index.status_code == 200
    assert "<title>MiniChat</title>" in index.text
    assert index.headers["cache-control"] == "no-cache"
    asset = await ui_client.get("/assets/app-abc123.js")
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]


async def test_app_paths_fall_back_to_index(ui_client: httpx.AsyncClient) -> None:
    for path in ("/login", "/chat", "/chat/0b5f3a52-8a53-4a8f-9a51-7f1f6f0f6c11"):
        response = await ui_client.get(path)
        assert response.status_code == 200, path
        assert "<title>MiniChat</title>" in response.text


async def test_missing_files_and_api_paths_stay_404(ui_client: httpx.AsyncClient) -> None:
    assert (await ui_client.get("/assets/gone.js")).status_code == 404
    missing = await ui_client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert (await ui_client.get("/healthz")).json() == {"status": "ok"}


async def test_no_ui_without_a_dist_dir(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).status_code == 404


async def test_files_and_pages_have_bounded_route_labels(ui_client: httpx.AsyncClient) -> None:
    for path in ("/", "/chat/1", "/chat/2", "/assets/app-abc123.js", "/assets/gone.js"):
        await ui_client.get(path)
    await ui_client.get("/api/docs")
    await ui_client.get("/api/docs/assets/swagger-ui.css")
    await ui_client.get("/api/openapi.json")
    metrics = (await ui_client.get("/metrics")).text
    labels = {
        line.split('route="', 1)[1].split('"', 1)[0]
        for line in metrics.splitlines()
        if line.startswith("minichat_http_request_duration_seconds_count")
    }
    assert {
        "/{page}",
        "/assets/{file}",
        "/api/docs",
        "/api/docs/assets/{file}",
        "/api/openapi.json",
    } <= labels
    assert not {"/chat/1", "/chat/2"} & labels

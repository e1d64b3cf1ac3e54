"""What surrounds the resources: probes, CORS, the OpenAPI document."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from minichat.db import session as db_session
from minichat_api.main import create_app
from minichat_api.settings import ApiSettings
from tests.conftest import ScratchDatabases, in_process
from tests.factories import register


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


async def test_probes_answer_head_too(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        response = await client.head(path)
        assert response.status_code == 200, path
        assert response.content == b"", path


async def test_readyz_reports_an_unreachable_database(settings: ApiSettings) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    broken = settings.model_copy(
        update={
            "database_url": "postgresql+psycopg://postgres@127.0.0.1:1/nothing",
            "redis_url": "redis://127.0.0.1:1/0",
        }
    )
    async with in_process(create_app(broken)) as http:
        ready = await http.get("/readyz")
        assert (await http.get("/healthz")).status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "checks": {"database": "unreachable", "redis": "unreachable"},
    }


async def test_cors_allows_the_web_origin_only(client: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = await client.options(
        "/api/chats", headers={"Origin": "http://localhost:3000", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused = await client.options(
        "/api/chats", headers={"Origin": "http://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_openapi_document_lists_the_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/me",
        "/api/chats",
        "/api/chats/{chat_id}",
        "/api/chats/{chat_id}/messages",
    ):
        assert path in paths


async def test_every_route_documents_the_refusals_any_request_can_get(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert {"400", "413", "431"} <= set(operation["responses"]), (method, path)
            error = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


async def test_a_wrong_method_is_405_naming_the_allowed_ones(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/auth/login", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_metrics_are_exposed_for_prometheus(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'minichat_http_request_duration_seconds_count{method="GET",route="/healthz"' in body
    assert "minichat_generations_total" in body
    assert "minichat_time_to_first_token_seconds" in body


@pytest.fixture
def own_database_url(test_databases: ScratchDatabases) -> str:
    return test_databases.create("reconnect")


async def test_connections_the_database_dropped_while_idle_cost_no_request(
    settings: ApiSettings, own_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a database restart: every pooled connection is gone, and no request fails."""
    monkeypatch.setattr(db_session, "PING_AFTER_IDLE_SECONDS", 0.0)
    own = settings.model_copy(update={"database_url": own_database_url})
    async with in_process(create_app(own)) as http:
        account = await register(http)
        listed = [http.get("/api/chats", headers=account.headers) for _ in range(6)]
        assert {r.status_code for r in await asyncio.gather(*listed)} == {200}
        admin_url = own_database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as admin:
            ended = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert (await ended.fetchone() or (0,))[0] >= 1
        for _ in range(6):
            response = await http.get("/api/chats", headers=account.headers)
            assert response.status_code == 200, response.text

"""`minichat up` as a newcomer runs it: a subprocess in an empty directory, no servers given,
the real embedded model; a full chat over HTTP, then a restart that finds everything kept."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.eventually import eventually
from tests.factories import DEFAULT_PASSWORD, unique_email
from tests.processes import Service, serve
from tests.sse import collect, text_of

pytestmark = pytest.mark.model

# Empty values count as unset: nothing of the test servers leaks into the all-in-one mode.
NO_SERVERS = dict.fromkeys(
    ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "INFERENCE_URL", "JWT_SECRET"), ""
)


@contextmanager
def minichat_up(data_dir: Path, logs: Path) -> Iterator[Service]:
    # Greedy, so the answer to the question below is known.
    env = {
        **NO_SERVERS,
        "INFERENCE_BACKEND": "embedded",
        "INFERENCE_TEMPERATURE": "0",
        "GENERATION_MAX_TOKENS": "48",
    }
    with serve(["up", "--data-dir", str(data_dir)], env, logs, startup_timeout=900) as service:
        yield service


async def _usage(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get("/api/usage", headers=headers)).json()["items"]
    return items


async def _first_session(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    page = await client.get("/")
    assert page.status_code == 200
    assert '<div id="root">' in page.text or 'id="root"' in page.text

    registered = await client.post(
        "/api/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert registered.status_code == 201
    headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    chat = (await client.post("/api/chats", json={"title": "Geography"}, headers=headers)).json()
    await client.post(
        f"/api/chats/{chat['id']}/messages",
        json={"content": "What is the capital of France?"},
        headers=headers,
    )
    answer = await client.post(f"/api/chats/{chat['id']}/generations", headers=headers)
    assert answer.status_code == 202
    received = await collect(client, f"/api/generations/{answer.json()['id']}/stream", headers)
    assert received[-1].data == {"status": "succeeded"}
    assert "Paris" in text_of(received)

    again = await client.post(f"/api/chats/{chat['id']}/generations", headers=headers)
    canceled = await client.post(f"/api/generations/{again.json()['id']}/cancel", headers=headers)
    final = canceled.json()["status"]
    tail = await collect(client, f"/api/generations/{again.json()['id']}/stream", headers)
    assert tail[-1].data == {"status": final}

    # The usage events go through the outbox to the in-process worker.
    async def both_counted() -> list[dict[str, Any]] | None:
        usage = await _usage(client, headers)
        return usage if usage and usage[0]["requests"] == 2 else None

    usage = await eventually(both_counted, "both answers' usage to be applied", 20)
    assert len(usage) == 1
    assert usage[0]["day"] == datetime.now(UTC).date().isoformat()
    assert usage[0]["succeeded"] + usage[0]["canceled"] == 2
    assert usage[0]["succeeded"] >= 1
    return headers


async def test_minichat_up_then_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    email = unique_email()
    with minichat_up(data_dir, tmp_path) as first:
        async with httpx.AsyncClient(base_url=first.url, timeout=120) as client:
            headers = await _first_session(client, email)
            before = await _usage(client, headers)
        assert "MiniChat is running" in first.output()

    with minichat_up(data_dir, tmp_path) as second:
        async with httpx.AsyncClient(base_url=second.url, timeout=120) as client:
            login = await client.post(
                "/api/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
            )
            assert login.status_code == 200
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            chats = (await client.get("/api/chats", headers=headers)).json()["items"]
            assert [c["title"] for c in chats] == ["Geography"]
            messages = (
                await client.get(f"/api/chats/{chats[0]['id']}/messages", headers=headers)
            ).json()["items"]
            assert messages[0]["content"] == "What is the capital of France?"
            assert "Paris" in messages[1]["content"]
            assert await _usage(client, headers) == before

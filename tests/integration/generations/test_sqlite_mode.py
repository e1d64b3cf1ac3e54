"""The same api on the all-in-one defaults: SQLite through the same models and migrations,
streams in memory. The production code path, on other URLs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from minichat.db import migrate
from minichat_api.settings import ApiSettings
from minichat_inference.backends.scripted import scripted_text
from tests.factories import Account, create_chat, post_message, register
from tests.integration.generations.conftest import FAST_TOKENS, running_api
from tests.processes import Service
from tests.sse import collect, text_of


@pytest.fixture
async def embedded_settings(settings: ApiSettings, tmp_path: Path) -> ApiSettings:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'minichat.db'}"
    await asyncio.to_thread(migrate.upgrade, database_url, report=lambda _line: None)
    return settings.model_copy(update={"database_url": database_url, "redis_url": "memory://"})


async def test_a_whole_chat_on_sqlite(
    embedded_settings: ApiSettings, fast_inference: Service, slow_inference: Service
) -> None:
    async with running_api(
        embedded_settings.model_copy(update={"inference_url": fast_inference.url})
    ) as client:
        account = await _chat_and_answer(client)
    # Restarted on a slower model, same database: the data is there, and a canceled answer
    # keeps its partial text.
    async with running_api(
        embedded_settings.model_copy(update={"inference_url": slow_inference.url})
    ) as slow:
        chats = (await slow.get("/api/chats", headers=account.headers)).json()["items"]
        assert [c["title"] for c in chats] == ["On SQLite"]
        await _cancel_midway(slow, account)


async def _chat_and_answer(client: httpx.AsyncClient) -> Account:
    account = await register(client)
    login = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert login.status_code == 200
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert refreshed.status_code == 200
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert reuse.json()["error"]["code"] == "refresh_token_reused"
    # The reuse signed the registration's session out; the login's goes on.
    signed_out = await client.get("/api/auth/me", headers=account.headers)
    assert signed_out.json()["error"]["code"] == "session_revoked"
    account = replace(
        account,
        access_token=login.json()["access_token"],
        refresh_token=login.json()["refresh_token"],
    )

    chat = await create_chat(client, account, "On SQLite")
    for i in range(5):
        await post_message(client, account, chat["id"], f"message {i}")
    page = (
        await client.get(
            f"/api/chats/{chat['id']}/messages", params={"limit": 3}, headers=account.headers
        )
    ).json()
    rest = (
        await client.get(
            f"/api/chats/{chat['id']}/messages",
            params={"limit": 3, "cursor": page["next_cursor"]},
            headers=account.headers,
        )
    ).json()
    assert [m["content"] for m in page["items"] + rest["items"]] == [
        f"message {i}" for i in range(5)
    ]

    created = await client.post(f"/api/chats/{chat['id']}/generations", headers=account.headers)
    assert created.status_code == 202
    received = await collect(
        client, f"/api/generations/{created.json()['id']}/stream", account.headers
    )
    assert text_of(received) == scripted_text(FAST_TOKENS)
    assert received[-1].data == {"status": "succeeded"}
    messages = (
        await client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    ).json()["items"]
    assert messages[-1]["content"] == text_of(received)
    assert messages[-1]["created_at"].endswith("Z")

    return account


async def _cancel_midway(slow: httpx.AsyncClient, account: Account) -> None:
    slow_chat = await create_chat(slow, account)
    await post_message(slow, account, slow_chat["id"], "take your time")
    started = await slow.post(f"/api/chats/{slow_chat['id']}/generations", headers=account.headers)
    first = await collect(
        slow, f"/api/generations/{started.json()['id']}/stream", account.headers, stop_after=3
    )
    canceled = await slow.post(
        f"/api/generations/{started.json()['id']}/cancel", headers=account.headers
    )
    assert canceled.json()["status"] == "canceled"
    assert len(first) == 3
    messages = (
        await slow.get(f"/api/chats/{slow_chat['id']}/messages", headers=account.headers)
    ).json()["items"]
    assert messages[-1]["status"] == "incomplete"
    deleted = await slow.delete(f"/api/chats/{slow_chat['id']}", headers=account.headers)
    assert deleted.status_code == 204

"""Tokens used where they do not belong, and tokens that outlive their account: 401 with the
error shape, never a 500 and never data."""

from __future__ import annotations

import uuid

import httpx
import psycopg

from tests.factories import create_chat, post_message, register
from tests.integration.api.conftest import documented_operations


def _refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


async def test_an_access_token_is_not_a_refresh_token(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post("/api/auth/refresh", json={"refresh_token": account.access_token})
    _refused(response, "invalid_refresh_token")
    # Nor does a logout with it sign anything out: it names no session's refresh token.
    await client.post("/api/auth/logout", json={"refresh_token": account.access_token})
    assert (await client.get("/api/auth/me", headers=account.headers)).status_code == 200
    rotated = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert rotated.status_code == 200


async def test_the_tokens_of_a_deleted_account_get_nothing(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    account = await register(client)
    chat = await create_chat(client, account, "left behind")
    await post_message(client, account, chat["id"], "gone with the account")
    await db.execute("DELETE FROM users WHERE id = %s", (account.user["id"],))

    _refused(await client.get("/api/auth/me", headers=account.headers), "invalid_token")
    _refused(
        await client.post("/api/chats", json={"title": "orphan"}, headers=account.headers),
        "invalid_token",
    )
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    _refused(refreshed, "invalid_refresh_token")
    # Owner-scoped routes trust the signature until the token expires (deps.py): whatever
    # they answer, it holds nothing of the account and is no 500.
    for (method, path), needs_token in sorted((await documented_operations(client)).items()):
        if not needs_token:
            continue
        for chat_id in (chat["id"], str(uuid.uuid4())):
            url = path.format(chat_id=chat_id, generation_id=uuid.uuid4())
            body = {"title": "t", "content": "c"} if method in {"POST", "PATCH"} else None
            response = await client.request(method, url, json=body, headers=account.headers)
            assert response.status_code in {200, 401, 404}, (method, path, response.text)
            assert "left behind" not in response.text
            assert "gone with the account" not in response.text
            if response.status_code == 200:
                assert response.json()["items"] == [], (method, path)

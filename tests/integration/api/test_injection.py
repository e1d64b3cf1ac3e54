"""Stored titles and messages with script and markdown injection come back byte for byte, as
JSON strings: the api interprets no HTML."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.factories import create_chat, post_message, register
from tests.injection import PAYLOADS


def _json(response: httpx.Response) -> object:
    assert response.status_code in {200, 201}, response.text
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.content)


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_injection_comes_back_as_it_was_stored(
    client: httpx.AsyncClient, payload: str
) -> None:
    account = await register(client, display_name=payload)
    assert account.user["display_name"] == payload
    chat = await create_chat(client, account, payload)
    posted = await post_message(client, account, chat["id"], payload)
    assert (chat["title"], posted["content"]) == (payload, payload)

    got = _json(await client.get(f"/api/chats/{chat['id']}", headers=account.headers))
    listed = _json(await client.get("/api/chats", headers=account.headers))
    messages = _json(await client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers))
    me = _json(await client.get("/api/auth/me", headers=account.headers))
    assert isinstance(got, dict) and isinstance(listed, dict) and isinstance(messages, dict)
    assert got["title"] == payload
    assert [c["title"] for c in listed["items"]] == [payload]
    assert [m["content"] for m in messages["items"]] == [payload]
    assert isinstance(me, dict) and me["display_name"] == payload

    renamed = await client.patch(
        f"/api/chats/{chat['id']}", json={"title": payload[::-1]}, headers=account.headers
    )
    assert renamed.json()["title"] == payload[::-1]

"""Messages: posting, and the cursor that returns each message once while more arrive."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.factories import Account, create_chat, post_message, register


async def test_post_and_list_messages(client: httpx.AsyncClient) -> None:
    account = await register(client)
    chat = await create_chat(client, account)
    posted = await post_message(client, account, chat["id"], "Hello **world**")
    assert set(posted) == {
        "id",
        "chat_id",
        "role",
        "content",
        "status",
        "finish_reason",
        "created_at",
    }
    assert posted["finish_reason"] is None
    assert posted["chat_id"] == chat["id"]
    assert posted["role"] == "user"
    assert posted["status"] == "complete"
    assert posted["content"] == "Hello **world**"

    listing = await client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    assert listing.status_code == 200
    assert listing.json() == {"items": [posted], "next_cursor": None}


async def test_posting_moves_the_chat_to_the_top(client: httpx.AsyncClient) -> None:
    account = await register(client)
    older = await create_chat(client, account, "older")
    await create_chat(client, account, "newer")
    await post_message(client, account, older["id"], "hi")
    listing = (await client.get("/api/chats", headers=account.headers)).json()
    assert listing["items"][0]["id"] == older["id"]
    assert listing["items"][0]["updated_at"] > older["updated_at"]


async def test_limit_defaults_to_50_and_is_bounded(client: httpx.AsyncClient) -> None:
    account = await register(client)
    chat = await create_chat(client, account)
    for i in range(51):
        await post_message(client, account, chat["id"], f"m{i}")
    url = f"/api/chats/{chat['id']}/messages"
    page = (await client.get(url, headers=account.headers)).json()
    assert len(page["items"]) == 50
    assert page["next_cursor"] is not None
    rest = (
        await client.get(url, params={"cursor": page["next_cursor"]}, headers=account.headers)
    ).json()
    assert [m["content"] for m in rest["items"]] == ["m50"]
    assert rest["next_cursor"] is None

    for bad in (0, 201, -1):
        response = await client.get(url, params={"limit": bad}, headers=account.headers)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "limit"


async def _page_through(client: httpx.AsyncClient, account: Account, chat_id: str) -> list[str]:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        page = (
            await client.get(
                f"/api/chats/{chat_id}/messages", params=params, headers=account.headers
            )
        ).json()
        seen += [m["content"] for m in page["items"]]
        if page["next_cursor"] is None:
            return seen
        params["cursor"] = page["next_cursor"]
        await asyncio.sleep(0.01)


async def test_pagination_is_stable_while_messages_arrive(client: httpx.AsyncClient) -> None:
    account = await register(client)
    chat = await create_chat(client, account)
    for i in range(20):
        await post_message(client, account, chat["id"], f"m{i:03d}")

    async def writer(start: int) -> None:
        for i in range(start, start + 60, 2):
            await post_message(client, account, chat["id"], f"m{i:03d}")

    writers = asyncio.gather(writer(20), writer(21))
    seen = await _page_through(client, account, chat["id"])
    await writers
    listing = await client.get(
        f"/api/chats/{chat['id']}/messages", params={"limit": 200}, headers=account.headers
    )
    stored = [m["content"] for m in listing.json()["items"]]

    assert len(stored) == 80
    # The reader saw a prefix of the final order: every message once, none skipped.
    assert seen == stored[: len(seen)]
    assert len(seen) > 20, "the writers did not run while the reader paged"


@pytest.mark.parametrize(
    "content", ["", "   \n\t", "x" * 32_001], ids=["empty", "blank", "too-long"]
)
async def test_bad_message_content_is_refused(client: httpx.AsyncClient, content: str) -> None:
    account = await register(client)
    chat = await create_chat(client, account)
    response = await client.post(
        f"/api/chats/{chat['id']}/messages", json={"content": content}, headers=account.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "content"
    listing = await client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    assert listing.json()["items"] == []


async def test_an_empty_cursor_asks_for_the_first_page(client: httpx.AsyncClient) -> None:
    """DESIGN writes the route `?cursor=&limit=`: a client may send the cursor empty."""
    account = await register(client)
    chat = await create_chat(client, account)
    for i in range(3):
        await post_message(client, account, chat["id"], f"m{i}")
    for url in (f"/api/chats/{chat['id']}/messages", "/api/chats"):
        response = await client.get(url, params={"cursor": "", "limit": 2}, headers=account.headers)
        assert response.status_code == 200, (url, response.text)
        assert len(response.json()["items"]) == (2 if "messages" in url else 1)
    first = await client.get(
        f"/api/chats/{chat['id']}/messages", params={"cursor": ""}, headers=account.headers
    )
    assert [m["content"] for m in first.json()["items"]] == ["m0", "m1", "m2"]


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjoxfQ", "W10", "WyJhIl0", "!!!"])
async def test_bad_cursor_is_a_clear_400(client: httpx.AsyncClient, cursor: str) -> None:
    account = await register(client)
    chat = await create_chat(client, account)
    for url in (f"/api/chats/{chat['id']}/messages", "/api/chats"):
        response = await client.get(url, params={"cursor": cursor}, headers=account.headers)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"] == {
            "code": "invalid_cursor",
            "message": "cursor is not one this API returned",
            "field": "cursor",
        }

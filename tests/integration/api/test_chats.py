"""The chat routes: create, list (newest activity first, paged), get, rename, delete."""

from __future__ import annotations

import httpx

from tests.factories import create_chat, post_message, register


async def test_create_chat_with_and_without_title(client: httpx.AsyncClient) -> None:
    account = await register(client)
    titled = await create_chat(client, account, "  Trip to Lisbon  ")
    untitled = await create_chat(client, account, None)
    assert titled["title"] == "Trip to Lisbon"
    assert untitled["title"] == "New chat"
    assert set(titled) == {"id", "title", "created_at", "updated_at"}

    no_body = await client.post("/api/chats", headers=account.headers)
    assert no_body.status_code == 201
    assert no_body.json()["title"] == "New chat"


async def test_list_chats_is_newest_activity_first(client: httpx.AsyncClient) -> None:
    account = await register(client)
    first = await create_chat(client, account, "first")
    second = await create_chat(client, account, "second")
    third = await create_chat(client, account, "third")
    await post_message(client, account, first["id"], "bump")

    response = await client.get("/api/chats", headers=account.headers)
    assert response.status_code == 200
    body = response.json()
    assert [c["id"] for c in body["items"]] == [first["id"], third["id"], second["id"]]
    assert body["next_cursor"] is None


async def test_list_chats_pages_without_gaps_or_repeats(client: httpx.AsyncClient) -> None:
    account = await register(client)
    created = [await create_chat(client, account, f"chat {i}") for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/chats", params=params, headers=account.headers)).json()
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [c["id"] for c in reversed(created)]


async def test_get_rename_and_delete_chat(client: httpx.AsyncClient) -> None:
    account = await register(client)
    chat = await create_chat(client, account, "old")

    got = await client.get(f"/api/chats/{chat['id']}", headers=account.headers)
    assert got.json() == chat

    renamed = await client.patch(
        f"/api/chats/{chat['id']}", json={"title": "new"}, headers=account.headers
    )
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "new"
    assert renamed.json()["updated_at"] > chat["updated_at"]

    deleted = await client.delete(f"/api/chats/{chat['id']}", headers=account.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert "content-type" not in deleted.headers
    gone = await client.get(f"/api/chats/{chat['id']}", headers=account.headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "chat_not_found"
    again = await client.delete(f"/api/chats/{chat['id']}", headers=account.headers)
    assert again.status_code == 404
    listing = await client.get("/api/chats", headers=account.headers)
    assert listing.json()["items"] == []


async def test_deleting_a_chat_deletes_its_messages(client: httpx.AsyncClient) -> None:
    account = await register(client)
    chat = await create_chat(client, account)
    await post_message(client, account, chat["id"], "hello")
    await client.delete(f"/api/chats/{chat['id']}", headers=account.headers)
    response = await client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    assert response.status_code == 404

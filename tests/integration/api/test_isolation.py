"""No user reads or writes another user's chats, on any route: it is 404, with no data."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.factories import create_chat, post_message, register

ROUTES = [
    ("GET", "/api/chats/{id}", None),
    ("PATCH", "/api/chats/{id}", {"title": "stolen"}),
    ("DELETE", "/api/chats/{id}", None),
    ("GET", "/api/chats/{id}/messages", None),
    ("POST", "/api/chats/{id}/messages", {"content": "intrusion"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_another_users_chat_is_not_found(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    owner = await register(client)
    intruder = await register(client)
    chat = await create_chat(client, owner, "private")
    await post_message(client, owner, chat["id"], "secret")

    response = await client.request(
        method, path.format(id=chat["id"]), json=body, headers=intruder.headers
    )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "chat_not_found", "message": "chat not found"}}

    # Same answer as for a chat that never existed: existence is not revealed either.
    missing = await client.request(
        method, path.format(id=uuid.uuid4()), json=body, headers=intruder.headers
    )
    assert missing.status_code == 404
    assert missing.json() == response.json()

    # And the owner's chat is untouched.
    still = await client.get(f"/api/chats/{chat['id']}", headers=owner.headers)
    assert still.json()["title"] == "private"
    messages = await client.get(f"/api/chats/{chat['id']}/messages", headers=owner.headers)
    assert [m["content"] for m in messages.json()["items"]] == ["secret"]


async def test_chat_list_shows_only_own_chats(client: httpx.AsyncClient) -> None:
    alice = await register(client)
    bob = await register(client)
    alices = await create_chat(client, alice, "alice's")
    bobs = await create_chat(client, bob, "bob's")
    alice_list = (await client.get("/api/chats", headers=alice.headers)).json()["items"]
    bob_list = (await client.get("/api/chats", headers=bob.headers)).json()["items"]
    assert [c["id"] for c in alice_list] == [alices["id"]]
    assert [c["id"] for c in bob_list] == [bobs["id"]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/auth/me"),
        ("GET", "/api/chats"),
        ("POST", "/api/chats"),
        ("GET", "/api/chats/{id}"),
        ("PATCH", "/api/chats/{id}"),
        ("DELETE", "/api/chats/{id}"),
        ("GET", "/api/chats/{id}/messages"),
        ("POST", "/api/chats/{id}/messages"),
    ],
)
async def test_every_private_route_needs_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path.format(id=uuid.uuid4()), json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"

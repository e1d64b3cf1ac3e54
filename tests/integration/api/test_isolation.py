"""No user reads or writes another user's chats or answers, on any route: it is 404, with no
data, and the owner's data stays as it was."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from tests.factories import Account, create_chat, post_message, register
from tests.integration.api.conftest import documented_operations, ended_generation

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


async def test_every_private_route_needs_a_token(client: httpx.AsyncClient) -> None:
    private = sorted(
        route for route, needs_token in (await documented_operations(client)).items() if needs_token
    )
    assert len(private) >= len(SWEEP) + len(OWN_LISTS) + len(SELF)
    for method, path in private:
        url = path.format(chat_id=uuid.uuid4(), generation_id=uuid.uuid4())
        response = await client.request(method, url, json={})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"


# --- The sweep: every route that takes a chat or generation id, with another user's token ---

SWEEP: list[tuple[str, str, dict[str, str] | None]] = [
    ("GET", "/api/chats/{chat_id}", None),
    ("PATCH", "/api/chats/{chat_id}", {"title": "stolen"}),
    ("DELETE", "/api/chats/{chat_id}", None),
    ("GET", "/api/chats/{chat_id}/messages", None),
    ("POST", "/api/chats/{chat_id}/messages", {"content": "intrusion"}),
    ("POST", "/api/chats/{chat_id}/generations", None),
    ("GET", "/api/generations/{generation_id}", None),
    ("GET", "/api/generations/{generation_id}/stream", None),
    ("POST", "/api/generations/{generation_id}/cancel", None),
]
# Owner-scoped routes without an id: what they list must be the caller's own.
OWN_LISTS = [("GET", "/api/chats"), ("GET", "/api/usage")]
# Routes about the caller alone, and the one that creates.
SELF = [("GET", "/api/auth/me"), ("POST", "/api/chats")]
# Longer than any refusal takes, shorter than the slow model's answer: a stream handed to
# the intruder fails the test instead of hanging it.
QUICK = httpx.Timeout(5.0)


async def test_the_sweep_covers_every_route_with_an_id(client: httpx.AsyncClient) -> None:
    """A new route that takes an id, or lists a user's things, must join the sweep."""
    operations = await documented_operations(client)
    with_ids = {route for route in operations if "{" in route[1]}
    assert with_ids == {(method, path) for method, path, _ in SWEEP}
    assert all(operations[route] for route in with_ids)
    private = {route for route, needs_token in operations.items() if needs_token}
    assert private - with_ids == {*OWN_LISTS, *SELF}
    assert all("{chat_id}" in path or "{generation_id}" in path for _, path in with_ids), (
        "a route with another kind of id needs a case in the sweep"
    )


@dataclass
class Owned:
    """An owner's private chats: one whose answer is being written, one whose answer ended."""

    owner: Account
    running_chat: str
    running: str
    ended_chat: str
    ended: str
    secrets: list[str]


@pytest.fixture
async def owned(answering: httpx.AsyncClient, db: psycopg.AsyncConnection) -> Owned:
    owner = await register(answering)
    chat = await create_chat(answering, owner, "owner's running chat")
    await post_message(answering, owner, chat["id"], "owner's running secret")
    running = await answering.post(f"/api/chats/{chat['id']}/generations", headers=owner.headers)
    assert running.status_code == 202, running.text
    ended = await ended_generation(answering, owner)
    await answering.patch(
        f"/api/chats/{ended['chat_id']}",
        json={"title": "owner's ended chat"},
        headers=owner.headers,
    )
    await db.execute(
        "INSERT INTO usage_daily (user_id, day, model, requests, prompt_tokens, completion_tokens,"
        " succeeded, failed, canceled, ttft_ms_sum, ttft_count, duration_ms_sum)"
        " VALUES (%s, current_date, 'owner-model', 7, 70, 700, 7, 0, 0, 0, 0, 0)",
        (owner.user["id"],),
    )
    return Owned(
        owner,
        running_chat=chat["id"],
        running=running.json()["id"],
        ended_chat=str(ended["chat_id"]),
        ended=str(ended["id"]),
        secrets=["owner's running", "owner's ended", "owner-model", owner.email, owner.user["id"]],
    )


async def _snapshot(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection, owned: Owned
) -> dict[str, object]:
    """What the owner can see of their data, and what the database holds of their answers."""
    headers = owned.owner.headers
    chats = (await client.get("/api/chats", headers=headers)).json()
    messages = {
        chat["id"]: (await client.get(f"/api/chats/{chat['id']}/messages", headers=headers)).json()
        for chat in chats["items"]
    }
    answers = await db.execute(
        "SELECT id, chat_id, user_id, cancel_requested_at, status = 'canceled' FROM generations"
        " WHERE chat_id = ANY(%s) ORDER BY id",
        ([uuid.UUID(owned.running_chat), uuid.UUID(owned.ended_chat)],),
    )
    return {
        "chats": chats,
        "messages": messages,
        "ended": (await client.get(f"/api/generations/{owned.ended}", headers=headers)).json(),
        "answers": await answers.fetchall(),
        "usage": (await client.get("/api/usage", headers=headers)).json(),
    }


@pytest.mark.parametrize(("method", "path", "body"), SWEEP)
async def test_another_users_token_finds_nothing_and_changes_nothing(
    answering: httpx.AsyncClient,
    db: psycopg.AsyncConnection,
    owned: Owned,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    intruder = await register(answering)
    before = await _snapshot(answering, db, owned)
    targets = (
        [{"chat_id": owned.running_chat}, {"chat_id": owned.ended_chat}]
        if "{chat_id}" in path
        else [{"generation_id": owned.running}, {"generation_id": owned.ended}]
    )
    kind = "chat" if "{chat_id}" in path else "generation"
    for target in targets:
        response = await answering.request(
            method, path.format(**target), json=body, headers=intruder.headers, timeout=QUICK
        )
        assert response.status_code == 404, (target, response.text)
        assert response.json()["error"]["code"] == f"{kind}_not_found"
        assert not [s for s in owned.secrets if s in response.text], response.text
        # The answer for an id that was never given out: not even existence is revealed.
        never = {name: str(uuid.uuid4()) for name in target}
        missing = await answering.request(
            method, path.format(**never), json=body, headers=intruder.headers, timeout=QUICK
        )
        assert (missing.status_code, missing.json()) == (404, response.json())

    assert await _snapshot(answering, db, owned) == before
    running = await answering.get(f"/api/generations/{owned.running}", headers=owned.owner.headers)
    assert running.json()["status"] in {"queued", "streaming"}
    # Nor did the intruder get anything of their own out of it.
    assert (await answering.get("/api/chats", headers=intruder.headers)).json()["items"] == []


@pytest.mark.parametrize(("method", "path"), OWN_LISTS)
async def test_lists_hold_only_the_callers_own(
    answering: httpx.AsyncClient, owned: Owned, method: str, path: str
) -> None:
    intruder = await register(answering)
    mine = await answering.request(method, path, headers=owned.owner.headers)
    theirs = await answering.request(method, path, headers=intruder.headers)
    assert mine.status_code == theirs.status_code == 200
    assert len(mine.json()["items"]) >= 1  # the owner sees their data: the test can fail
    assert theirs.json()["items"] == []
    assert not [s for s in owned.secrets if s in theirs.text]

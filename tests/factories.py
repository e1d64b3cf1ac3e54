"""Builders of real objects through the public API, for tests that need a user or a chat."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.sse import Event, collect

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    email: str
    password: str
    user: dict[str, Any]
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def register(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    display_name: str | None = None,
) -> Account:
    email = email or unique_email()
    body: dict[str, Any] = {"email": email, "password": password}
    if display_name is not None:
        body["display_name"] = display_name
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return Account(email, password, data["user"], data["access_token"], data["refresh_token"])


async def create_chat(
    client: httpx.AsyncClient, account: Account, title: str | None = "A chat"
) -> dict[str, Any]:
    body = {"title": title} if title is not None else {}
    response = await client.post("/api/chats", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    chat: dict[str, Any] = response.json()
    return chat


async def post_message(
    client: httpx.AsyncClient, account: Account, chat_id: str, content: str
) -> dict[str, Any]:
    response = await client.post(
        f"/api/chats/{chat_id}/messages", json={"content": content}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


async def start_generation(
    client: httpx.AsyncClient, account: Account, prompt: str = "Hello there"
) -> dict[str, object]:
    chat = await create_chat(client, account)
    await post_message(client, account, chat["id"], prompt)
    response = await client.post(f"/api/chats/{chat['id']}/generations", headers=account.headers)
    assert response.status_code == 202, response.text
    generation: dict[str, object] = response.json()
    return generation


@dataclass
class Answered:
    account: Account
    generation_id: str
    url: str
    events: list[Event]


async def answered(client: httpx.AsyncClient) -> Answered:
    """A new account's generation, streamed to its `done`."""
    account = await register(client)
    generation = await start_generation(client, account)
    url = f"/api/generations/{generation['id']}/stream"
    return Answered(
        account, str(generation["id"]), url, await collect(client, url, account.headers)
    )

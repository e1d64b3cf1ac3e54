"""Audited actions leave an audit_event in the outbox, written with the change itself."""

from __future__ import annotations

import httpx
import psycopg

from tests.factories import create_chat, register


async def test_audited_actions_are_in_the_outbox(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    account = await register(client)
    await client.post(
        "/api/auth/login",
        json={"email": account.email, "password": account.password},
        headers={"User-Agent": "audit-test"},
    )
    chat = await create_chat(client, account)
    await client.delete(f"/api/chats/{chat['id']}", headers=account.headers)

    cursor = await db.execute(
        "SELECT payload FROM outbox WHERE event_type = 'audit_event' "
        "AND payload->>'actor_user_id' = %s ORDER BY created_at",
        (account.user["id"],),
    )
    events = [row[0] for row in await cursor.fetchall()]
    assert [(e["action"], e["target"]) for e in events] == [
        ("user.registered", f"user:{account.user['id']}"),
        ("user.login", f"user:{account.user['id']}"),
        ("chat.created", f"chat:{chat['id']}"),
        ("chat.deleted", f"chat:{chat['id']}"),
    ]
    assert events[1]["request_metadata"]["user_agent"] == "audit-test"
    assert len({e["event_id"] for e in events}) == 4

"""A message and an answer racing in one chat: the message never sorts before an answer that
does not answer it (the answer answers it, or the message is refused)."""

from __future__ import annotations

import asyncio

import httpx
import psycopg

from tests.factories import create_chat, post_message, register

ROUNDS = 25


async def test_a_message_racing_a_create_never_sorts_before_the_answer(
    slow_client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    account = await register(slow_client)
    outcomes: dict[tuple[int, int], int] = {}
    for attempt in range(ROUNDS):
        chat = await create_chat(slow_client, account)
        await post_message(slow_client, account, chat["id"], "first")
        created, posted = await asyncio.gather(
            slow_client.post(f"/api/chats/{chat['id']}/generations", headers=account.headers),
            slow_client.post(
                f"/api/chats/{chat['id']}/messages",
                json={"content": f"second {attempt}"},
                headers=account.headers,
            ),
        )
        outcome = (created.status_code, posted.status_code)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert outcome in {(202, 201), (202, 409)}, (created.text, posted.text)
        if posted.status_code == 201:
            cursor = await db.execute(
                "SELECT user_message_id FROM generations WHERE id = %s", (created.json()["id"],)
            )
            answered = await cursor.fetchone()
            assert answered is not None
            # Posted first, then: the answer answers it.
            assert str(answered[0]) == posted.json()["id"], f"round {attempt}: {outcomes}"
        await slow_client.post(
            f"/api/generations/{created.json()['id']}/cancel", headers=account.headers
        )

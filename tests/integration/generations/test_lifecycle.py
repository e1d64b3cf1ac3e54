"""One generation end to end through a real api, Redis, PostgreSQL and a scripted model."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from minichat_inference.backends.scripted import scripted_text
from tests.factories import create_chat, post_message, register, start_generation
from tests.integration.generations.conftest import FAST_TOKENS
from tests.processes import Service
from tests.sse import Event, collect, events, text_of


async def test_generation_streams_deltas_usage_done(fast_client: httpx.AsyncClient) -> None:
    account = await register(fast_client)
    generation = await start_generation(fast_client, account)
    assert generation["status"] in {"queued", "streaming"}
    assert set(generation) >= {
        "id",
        "chat_id",
        "status",
        "assistant_message_id",
        "model",
        "created_at",
        "finished_at",
        "usage",
    }

    received = await collect(
        fast_client, f"/api/generations/{generation['id']}/stream", account.headers
    )
    kinds = [e.event for e in received]
    assert kinds[-2:] == ["usage", "done"]
    assert set(kinds[:-2]) == {"delta"}
    deltas = [e for e in received if e.event == "delta"]
    assert [e.data["index"] for e in deltas] == list(range(len(deltas)))
    ids = [e.id for e in received]
    assert all(ids) and ids == sorted(ids, key=lambda i: tuple(map(int, str(i).split("-"))))
    assert len(set(ids)) == len(ids)
    assert text_of(received) == scripted_text(FAST_TOKENS)
    assert received[-1].data == {"status": "succeeded"}
    assert received[-2].data["completion_tokens"] == FAST_TOKENS
    assert received[-2].data["prompt_tokens"] > 0

    stored = (
        await fast_client.get(f"/api/generations/{generation['id']}", headers=account.headers)
    ).json()
    assert stored["status"] == "succeeded"
    assert stored["finished_at"] is not None
    assert stored["usage"] == received[-2].data
    assert stored["model"] == "minichat-scripted"
    messages = (
        await fast_client.get(
            f"/api/chats/{generation['chat_id']}/messages", headers=account.headers
        )
    ).json()["items"]
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1]["id"] == stored["assistant_message_id"]
    assert messages[1]["content"] == text_of(received)


async def test_deleting_the_chat_mid_stream_ends_the_stream(
    slow_client: httpx.AsyncClient,
) -> None:
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    received: list[Event] = []
    url = f"/api/generations/{generation['id']}/stream"
    async with slow_client.stream("GET", url, headers=account.headers, timeout=30) as response:
        async for event in events(response):
            received.append(event)
            if len(received) == 2:
                deleted = await slow_client.delete(
                    f"/api/chats/{generation['chat_id']}", headers=account.headers
                )
                assert deleted.status_code == 204
    assert received[-1].event == "done"
    assert received[-1].data == {"status": "canceled"}
    assert len(received) < 20  # the model was stopped, not left to finish its answer


async def test_deleting_the_chat_mid_stream_still_counts_the_tokens_spent(
    slow_client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    """The answer's tokens were computed and are billed: its usage event is written with
    them, though the generation goes with its chat."""
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    url = f"/api/generations/{generation['id']}/stream"
    seen = await collect(slow_client, url, account.headers, stop_after=5)
    deleted = await slow_client.delete(
        f"/api/chats/{generation['chat_id']}", headers=account.headers
    )
    assert deleted.status_code == 204
    cursor = await db.execute(
        "SELECT payload->>'status', (payload->>'completion_tokens')::int FROM outbox"
        " WHERE event_type = 'usage_event' AND payload->>'generation_id' = %s",
        (generation["id"],),
    )
    usage = await cursor.fetchall()
    assert len(usage) == 1
    status, completion_tokens = usage[0]
    assert status == "canceled"
    assert completion_tokens >= len(seen)


async def test_idempotency_key_returns_the_same_generation(
    fast_client: httpx.AsyncClient,
) -> None:
    account = await register(fast_client)
    chat = await create_chat(fast_client, account)
    await post_message(fast_client, account, chat["id"], "once please")
    headers = {**account.headers, "Idempotency-Key": "retry-me-123"}
    url = f"/api/chats/{chat['id']}/generations"
    first = await fast_client.post(url, headers=headers)
    second = await fast_client.post(url, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    await collect(fast_client, f"/api/generations/{first.json()['id']}/stream", account.headers)
    third = await fast_client.post(url, headers=headers)
    assert third.json()["id"] == first.json()["id"]
    assert third.json()["status"] == "succeeded"
    messages = (
        await fast_client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    ).json()["items"]
    assert [m["role"] for m in messages] == ["user", "assistant"]


async def test_racing_retries_start_one_generation_and_leave_no_model_running(
    slow_client: httpx.AsyncClient, slow_inference: Service
) -> None:
    """Each create asks the model before its generation is written; the requests that lose
    the Idempotency-Key race must close what they asked for."""
    account = await register(slow_client)
    chat = await create_chat(slow_client, account)
    await post_message(slow_client, account, chat["id"], "only one answer please")
    headers = {**account.headers, "Idempotency-Key": "raced-key"}
    url = f"/api/chats/{chat['id']}/generations"
    responses = await asyncio.gather(*(slow_client.post(url, headers=headers) for _ in range(6)))
    assert {r.status_code for r in responses} == {202}
    (generation_id,) = {r.json()["id"] for r in responses}
    cancel = await slow_client.post(
        f"/api/generations/{generation_id}/cancel", headers=account.headers
    )
    assert cancel.status_code == 200
    async with httpx.AsyncClient(base_url=slow_inference.url) as inference:
        for _ in range(100):
            active = await _gauge(inference, "minichat_inference_active_generations")
            if active == 0:
                break
            await asyncio.sleep(0.05)
    assert active == 0
    stored = await slow_client.get(f"/api/generations/{generation_id}", headers=account.headers)
    assert stored.json()["status"] == "canceled"
    messages = await slow_client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    roles = [m["role"] for m in messages.json()["items"]]
    # The one answer, if a word of it came before the cancel; never one per retry.
    assert roles in (["user"], ["user", "assistant"])


async def _gauge(http: httpx.AsyncClient, name: str) -> float:
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_a_create_with_a_free_slot_answers_the_streaming_it_committed(
    slow_client: httpx.AsyncClient,
) -> None:
    """The runner's claim (queued -> streaming) commits with the create itself: the 202 tells
    the status committed, `streaming`, with no gap in `queued`."""
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    assert generation["status"] == "streaming"
    base = f"/api/generations/{generation['id']}"
    now = (await slow_client.get(base, headers=account.headers)).json()
    assert now["status"] == "streaming"
    await slow_client.post(f"{base}/cancel", headers=account.headers)


async def test_a_second_generation_while_one_runs_is_conflict(
    slow_client: httpx.AsyncClient,
) -> None:
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    again = await slow_client.post(
        f"/api/chats/{generation['chat_id']}/generations", headers=account.headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "generation_in_progress"
    assert again.json()["error"]["generation_id"] == generation["id"]
    await slow_client.post(f"/api/generations/{generation['id']}/cancel", headers=account.headers)


async def test_a_message_while_an_answer_runs_is_conflict_and_waits_for_its_end(
    slow_client: httpx.AsyncClient,
) -> None:
    """Posted mid-answer, a message would sort before the answer to the message before it."""
    account = await register(slow_client)
    generation = await start_generation(slow_client, account, "first question")
    messages_url = f"/api/chats/{generation['chat_id']}/messages"
    next_message = {"content": "next"}
    base = f"/api/generations/{generation['id']}"
    during: httpx.Response | None = None
    async with slow_client.stream("GET", f"{base}/stream", headers=account.headers) as response:
        async for event in events(response):
            if event.event == "delta" and during is None:
                during = await slow_client.post(
                    messages_url, json=next_message, headers=account.headers
                )
                await slow_client.post(f"{base}/cancel", headers=account.headers)
    assert during is not None
    assert during.status_code == 409
    assert during.json()["error"]["code"] == "generation_in_progress"
    assert during.json()["error"]["generation_id"] == generation["id"]
    after = await slow_client.post(messages_url, json=next_message, headers=account.headers)
    assert after.status_code == 201
    listing = (await slow_client.get(messages_url, headers=account.headers)).json()["items"]
    assert [(m["role"], m["status"]) for m in listing] == [
        ("user", "complete"),
        ("assistant", "incomplete"),
        ("user", "complete"),
    ]
    assert listing[-1]["content"] == "next"


async def test_simultaneous_creates_for_one_chat_start_one_answer(
    slow_client: httpx.AsyncClient,
) -> None:
    # The slow model: on a loaded machine a fast answer could end before a later create got
    # the chat's lock, which would then rightly start a regeneration.
    account = await register(slow_client)
    chat = await create_chat(slow_client, account)
    await post_message(slow_client, account, chat["id"], "just once")
    url = f"/api/chats/{chat['id']}/generations"
    answers = await asyncio.gather(
        *(slow_client.post(url, headers=account.headers) for _ in range(8))
    )
    started = [a.json() for a in answers if a.status_code == 202]
    refused = [a.json()["error"] for a in answers if a.status_code == 409]
    assert len(started) == 1, [a.text for a in answers]
    assert len(refused) == 7
    assert {e["code"] for e in refused} == {"generation_in_progress"}
    await collect(slow_client, f"/api/generations/{started[0]['id']}/stream", account.headers)
    messages = await slow_client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    assert [m["role"] for m in messages.json()["items"]] == ["user", "assistant"]


async def test_generation_needs_a_user_message(fast_client: httpx.AsyncClient) -> None:
    account = await register(fast_client)
    chat = await create_chat(fast_client, account)
    response = await fast_client.post(
        f"/api/chats/{chat['id']}/generations", headers=account.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_user_message"


async def test_regenerate_answers_the_last_user_message_again(
    fast_client: httpx.AsyncClient,
) -> None:
    account = await register(fast_client)
    generation = await start_generation(fast_client, account)
    url = f"/api/generations/{generation['id']}/stream"
    await collect(fast_client, url, account.headers)
    again = await fast_client.post(
        f"/api/chats/{generation['chat_id']}/generations", headers=account.headers
    )
    assert again.status_code == 202
    await collect(fast_client, f"/api/generations/{again.json()['id']}/stream", account.headers)
    messages = (
        await fast_client.get(
            f"/api/chats/{generation['chat_id']}/messages", headers=account.headers
        )
    ).json()["items"]
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]


@pytest.mark.parametrize("method", ["GET", "STREAM", "CANCEL"])
async def test_another_user_cannot_touch_your_generation(
    fast_client: httpx.AsyncClient, method: str
) -> None:
    owner = await register(fast_client)
    intruder = await register(fast_client)
    generation = await start_generation(fast_client, owner)
    base = f"/api/generations/{generation['id']}"
    if method == "GET":
        response = await fast_client.get(base, headers=intruder.headers)
    elif method == "STREAM":
        response = await fast_client.get(f"{base}/stream", headers=intruder.headers)
    else:
        response = await fast_client.post(f"{base}/cancel", headers=intruder.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "generation_not_found"
    received = await collect(fast_client, f"{base}/stream", owner.headers)
    assert received[-1].data == {"status": "succeeded"}
    start_other = await fast_client.post(
        f"/api/chats/{generation['chat_id']}/generations", headers=intruder.headers
    )
    assert start_other.status_code == 404


async def test_another_user_cannot_stream_a_generation_this_process_is_running(
    slow_client: httpx.AsyncClient,
) -> None:
    """The running job's owner is checked in memory, without the database: still owner-only."""
    owner = await register(slow_client)
    intruder = await register(slow_client)
    generation = await start_generation(slow_client, owner)
    base = f"/api/generations/{generation['id']}"
    response = await slow_client.get(f"{base}/stream", headers=intruder.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "generation_not_found"
    assert (await slow_client.post(f"{base}/cancel", headers=owner.headers)).status_code == 200
    received = await collect(slow_client, f"{base}/stream", owner.headers)
    assert received[-1].data == {"status": "canceled"}


async def test_bad_generation_ids(fast_client: httpx.AsyncClient) -> None:
    account = await register(fast_client)
    for path in ("/api/generations/nope", "/api/generations/nope/stream"):
        response = await fast_client.get(path, headers=account.headers)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "generation_id"
    missing = await fast_client.get(
        "/api/generations/00000000-0000-0000-0000-000000000000", headers=account.headers
    )
    assert missing.status_code == 404

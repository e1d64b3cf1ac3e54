"""One generation end to end through a real api, Redis, PostgreSQL and a scripted model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as redis

from minichat_inference.backends.scripted import scripted_text
from tests.conftest import REDIS_URL
from tests.factories import Account, create_chat, post_message, register
from tests.integration.generations.conftest import FAST_TOKENS
from tests.processes import Service
from tests.sse import Event, collect, events, text_of


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


async def test_resume_with_last_event_id_has_no_gap_and_no_duplicate(
    fast_client: httpx.AsyncClient,
) -> None:
    done = await answered(fast_client)
    account, url, full = done.account, done.url, done.events
    # Tokens that reach the runner together go out as one delta, so the count varies.
    for cut in sorted({1, min(5, len(full) - 2), len(full) - 2, len(full) - 1}):
        rest = await collect(fast_client, url, account.headers, last_event_id=full[cut - 1].id)
        assert rest == full[cut:]
    by_query = await fast_client.get(f"{url}?last_event_id={full[-2].id}", headers=account.headers)
    assert "event: done" in by_query.text
    assert "event: usage" not in by_query.text


async def test_client_that_disconnects_midway_resumes_exactly(
    slow_client: httpx.AsyncClient,
) -> None:
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    url = f"/api/generations/{generation['id']}/stream"
    first = await collect(slow_client, url, account.headers, stop_after=5)
    rest = await collect(
        slow_client, url, account.headers, last_event_id=first[-1].id, stop_after=5
    )
    assert [e.data["index"] for e in first + rest] == list(range(10))
    await slow_client.post(f"/api/generations/{generation['id']}/cancel", headers=account.headers)


async def test_stream_after_retention_replays_the_stored_answer(
    fast_redis_client: httpx.AsyncClient, redis_prefix: str
) -> None:
    fast_client = fast_redis_client
    done = await answered(fast_client)
    account, url, live = done.account, done.url, done.events
    connection = redis.Redis.from_url(REDIS_URL)
    await connection.delete(f"{redis_prefix}gen:{done.generation_id}")
    await connection.aclose()

    replay = await collect(fast_client, url, account.headers)
    assert [e.event for e in replay] == ["delta", "usage", "done"]
    assert text_of(replay) == text_of(live)
    assert replay[-1].data == live[-1].data
    assert replay[-2].data == live[-2].data
    tail = await collect(fast_client, url, account.headers, last_event_id=replay[0].id)
    assert tail == replay[1:]
    # An id of the expired stream: which text that client has is unknown now; it gets the end.
    resumed = await collect(fast_client, url, account.headers, last_event_id=live[2].id)
    assert [e.event for e in resumed] == ["usage", "done"]
    assert resumed[-1].data == live[-1].data
    # A client that has the replay's `done` is told there is nothing more.
    assert replay[-1].id is not None
    after_done = await fast_client.get(
        url, headers={**account.headers, "Last-Event-ID": replay[-1].id}
    )
    assert after_done.status_code == 204


async def test_resume_after_done_is_204_at_once(fast_client: httpx.AsyncClient) -> None:
    """An EventSource reconnects with the `done` it was sent: nothing more, no waiting, and a
    204, the one answer after which an EventSource stops reconnecting."""
    done = await answered(fast_client)
    account, url, live = done.account, done.url, done.events
    assert live[-1].id is not None
    again = await asyncio.wait_for(
        fast_client.get(url, headers={**account.headers, "Last-Event-ID": live[-1].id}), 5
    )
    assert again.status_code == 204
    assert again.content == b""
    assert await collect(fast_client, url, account.headers, last_event_id=live[-3].id) == live[-2:]


async def test_an_id_later_than_the_stream_is_400_live_or_finished(
    slow_client: httpx.AsyncClient,
) -> None:
    """A made-up id, or one of a later generation's stream: no event of this stream follows
    it, so waiting would be waiting for nothing."""
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    url = f"/api/generations/{generation['id']}/stream"
    first = await collect(slow_client, url, account.headers, stop_after=2)
    assert first[-1].id is not None
    later = f"{int(first[-1].id.split('-')[0]) + 3_600_000}-0"
    for state in ("live", "finished"):
        response = await asyncio.wait_for(
            slow_client.get(url, headers={**account.headers, "Last-Event-ID": later}), 5
        )
        assert response.status_code == 400, state
        assert response.json()["error"]["code"] == "invalid_last_event_id"
        by_query = await slow_client.get(f"{url}?last_event_id={later}", headers=account.headers)
        assert by_query.json()["error"]["field"] == "last_event_id"
        if state == "live":
            cancel = f"/api/generations/{generation['id']}/cancel"
            await slow_client.post(cancel, headers=account.headers)
            rest = await collect(slow_client, url, account.headers, last_event_id=first[-1].id)
            assert rest[-1].data == {"status": "canceled"}


async def test_an_id_just_past_the_stream_is_followed_live_and_204_once_ended(
    slow_client: httpx.AsyncClient,
) -> None:
    """Not far enough ahead to be made up: it may be an id Redis lost in a failover. A live
    stream is followed from there; an ended one has nothing after it."""
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    url = f"/api/generations/{generation['id']}/stream"
    first = await collect(slow_client, url, account.headers, stop_after=2)
    assert first[-1].id is not None
    milliseconds, _, sequence = first[-1].id.partition("-")
    just_past = f"{milliseconds}-{int(sequence) + 1000}"
    await slow_client.post(f"/api/generations/{generation['id']}/cancel", headers=account.headers)
    rest = await asyncio.wait_for(
        collect(slow_client, url, account.headers, last_event_id=just_past), 10
    )
    assert rest[-1].data == {"status": "canceled"}
    # Ended now: the same events follow that id, read from the finished stream.
    assert await collect(slow_client, url, account.headers, last_event_id=just_past) == rest
    past_done = f"{int(str(rest[-1].id).split('-')[0]) + 1}-0"
    after_done = await slow_client.get(url, headers={**account.headers, "Last-Event-ID": past_done})
    assert after_done.status_code == 204


async def test_a_blank_last_event_id_asks_for_the_whole_stream(
    fast_client: httpx.AsyncClient,
) -> None:
    done = await answered(fast_client)
    headers = done.account.headers
    assert await collect(fast_client, done.url, {**headers, "Last-Event-ID": ""}) == done.events
    assert await collect(fast_client, f"{done.url}?last_event_id=", headers) == done.events


async def _lose_the_closing_events(redis_prefix: str, generation_id: str) -> list[str]:
    """As if the runner died between committing the end and writing it to the stream."""
    connection = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    key = f"{redis_prefix}gen:{generation_id}"
    entries: Any = await connection.xrange(key)
    closing = [str(i) for i, fields in entries if fields["e"] != "delta"]
    await connection.xdel(key, *closing)
    await connection.aclose()
    return closing


async def test_a_finished_generation_whose_stream_lost_its_done_is_closed(
    fast_redis_client: httpx.AsyncClient, redis_prefix: str
) -> None:
    client = fast_redis_client
    done = await answered(client)
    assert len(await _lose_the_closing_events(redis_prefix, done.generation_id)) == 2
    resumed = await asyncio.wait_for(
        collect(client, done.url, done.account.headers, last_event_id=done.events[-3].id), 5
    )
    assert [e.event for e in resumed] == ["usage", "done"]
    assert [e.data for e in resumed] == [e.data for e in done.events[-2:]]
    # Written to the stream itself: every reader now gets the same whole stream.
    again = await collect(client, done.url, done.account.headers)
    assert [e.data for e in again] == [e.data for e in done.events]


async def test_a_follower_waiting_when_the_done_is_lost_still_gets_it(
    fast_redis_client: httpx.AsyncClient, redis_prefix: str, db: psycopg.AsyncConnection
) -> None:
    """The follower came while the generation ran elsewhere; that process committed the end
    and died before writing it to the stream. Within a quiet check, the follower is closed."""
    done = await answered(fast_redis_client)
    await _lose_the_closing_events(redis_prefix, done.generation_id)
    # Running in another process, alive, so nobody here adopts it...
    connection = redis.Redis.from_url(REDIS_URL)
    await connection.set(f"{redis_prefix}runner:elsewhere", "1", px=60_000)
    await connection.aclose()
    running = await db.execute(
        "UPDATE generations SET status = 'streaming', runner_id = 'elsewhere' WHERE id = %s"
        " RETURNING status",
        (done.generation_id,),
    )
    assert await running.fetchone() == ("streaming",)
    follower = asyncio.create_task(collect(fast_redis_client, done.url, done.account.headers))
    await asyncio.sleep(0.5)
    # ...which now commits the end, and dies.
    await db.execute(
        "UPDATE generations SET status = 'succeeded' WHERE id = %s", (done.generation_id,)
    )
    received = await asyncio.wait_for(follower, 15)
    assert [e.data for e in received] == [e.data for e in done.events]


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


async def test_a_create_with_a_free_slot_answers_queued_and_is_already_streaming(
    slow_client: httpx.AsyncClient,
) -> None:
    """The runner's claim (queued -> streaming) commits with the create itself: the 202 tells
    the generation as created, and by then it is streaming, with no gap in `queued`."""
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    assert generation["status"] == "queued"
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
    fast_client: httpx.AsyncClient,
) -> None:
    account = await register(fast_client)
    chat = await create_chat(fast_client, account)
    await post_message(fast_client, account, chat["id"], "just once")
    url = f"/api/chats/{chat['id']}/generations"
    answers = await asyncio.gather(
        *(fast_client.post(url, headers=account.headers) for _ in range(8))
    )
    started = [a.json() for a in answers if a.status_code == 202]
    refused = [a.json()["error"] for a in answers if a.status_code == 409]
    assert len(started) == 1, [a.text for a in answers]
    assert len(refused) == 7
    assert {e["code"] for e in refused} == {"generation_in_progress"}
    await collect(fast_client, f"/api/generations/{started[0]['id']}/stream", account.headers)
    messages = await fast_client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
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


@pytest.mark.parametrize(
    "last_event_id",
    [
        *("abc", "1-2-3", "-1", "1700000000000", "1-x", "9" * 30 + "-0"),
        # Past what Redis takes (each part is 64 bits): its refusal ended the stream unannounced.
        *(f"{1 << 64}-0", f"1-{1 << 64}"),
    ],
)
async def test_bad_last_event_id_is_400(fast_client: httpx.AsyncClient, last_event_id: str) -> None:
    account = await register(fast_client)
    generation = await start_generation(fast_client, account)
    response = await fast_client.get(
        f"/api/generations/{generation['id']}/stream",
        headers={**account.headers, "Last-Event-ID": last_event_id},
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Last-Event-ID"


async def test_a_last_event_id_of_other_digits_is_400(fast_client: httpx.AsyncClient) -> None:
    """Unicode digits (here ARABIC-INDIC THREE) are no stream id, whatever `str.isdigit` says."""
    account = await register(fast_client)
    generation = await start_generation(fast_client, account)
    response = await fast_client.get(
        f"/api/generations/{generation['id']}/stream",
        params={"last_event_id": "\u0663-0"},
        headers=account.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "last_event_id"


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

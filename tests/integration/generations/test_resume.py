"""A generation's stream read again: resume with Last-Event-ID, after retention, after `done`,
and a stream whose `done` was lost with the process that wrote it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from tests.conftest import REDIS_URL
from tests.eventually import eventually
from tests.factories import answered, register, start_generation
from tests.sse import collect, text_of


def _open_streams() -> float:
    """SSE streams this process (the in-process api) holds open now."""
    return REGISTRY.get_sample_value("minichat_sse_streams_active") or 0.0


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
    opened = _open_streams()
    follower = asyncio.create_task(collect(fast_redis_client, done.url, done.account.headers))
    await eventually(lambda: _open_streams() > opened, "the follower to be following")
    # ...which now commits the end, and dies.
    await db.execute(
        "UPDATE generations SET status = 'succeeded' WHERE id = %s", (done.generation_id,)
    )
    received = await asyncio.wait_for(follower, 15)
    assert [e.data for e in received] == [e.data for e in done.events]


async def test_a_follower_whose_stream_is_lost_gets_the_stored_closing_events(
    fast_redis_client: httpx.AsyncClient, redis_prefix: str, db: psycopg.AsyncConnection
) -> None:
    """The stream expires (or Redis loses it) while a follower waits on a generation that
    another process then ends as failed: the follower is closed from the database with what
    a stream's end says, the error with its reason, the usage, then `done`."""
    done = await answered(fast_redis_client)
    await _lose_the_closing_events(redis_prefix, done.generation_id)  # it was still running
    connection = redis.Redis.from_url(REDIS_URL)
    await connection.set(f"{redis_prefix}runner:elsewhere", "1", px=60_000)
    await db.execute(
        "UPDATE generations SET status = 'streaming', runner_id = 'elsewhere' WHERE id = %s",
        (done.generation_id,),
    )
    opened = _open_streams()
    follower = asyncio.create_task(
        collect(fast_redis_client, done.url, done.account.headers, last_event_id=done.events[2].id)
    )
    await eventually(lambda: _open_streams() > opened, "the follower to be following")
    await db.execute(
        "UPDATE generations SET status = 'failed', error_code = 'inference_disconnected',"
        " error_message = 'the connection was lost', prompt_tokens = 7,"
        " completion_tokens = 11 WHERE id = %s",
        (done.generation_id,),
    )
    await connection.delete(f"{redis_prefix}gen:{done.generation_id}")
    await connection.aclose()
    received = await asyncio.wait_for(follower, 15)
    assert received[:-3] == done.events[3:-2]
    assert [(e.event, e.data) for e in received[-3:]] == [
        ("error", {"code": "inference_disconnected", "message": "the connection was lost"}),
        ("usage", {"prompt_tokens": 7, "completion_tokens": 11}),
        ("done", {"status": "failed"}),
    ]


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

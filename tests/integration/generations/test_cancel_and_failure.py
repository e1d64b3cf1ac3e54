"""Stopping a generation, and the ways one fails: state, stream and stored text agree."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as redis

from minichat_api.generation.runner import FreshStart
from minichat_api.generation.upstream import ChatTurn
from minichat_api.settings import ApiSettings
from minichat_api.state import AppState
from tests.conftest import REDIS_URL
from tests.factories import register, start_generation
from tests.integration.generations.conftest import running_api, scripted_env
from tests.processes import Service, serve, stop
from tests.sse import collect, events, text_of


async def _messages(
    client: httpx.AsyncClient, headers: dict[str, str], chat_id: object
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/chats/{chat_id}/messages", headers=headers)
    return list(response.json()["items"])


async def test_cancel_mid_stream(slow_client: httpx.AsyncClient) -> None:
    account = await register(slow_client)
    generation = await start_generation(slow_client, account)
    base = f"/api/generations/{generation['id']}"
    received = []
    async with slow_client.stream("GET", f"{base}/stream", headers=account.headers) as response:
        async for event in events(response):
            received.append(event)
            if len(received) == 3:
                canceled = await slow_client.post(f"{base}/cancel", headers=account.headers)
                assert canceled.status_code == 200
                assert canceled.json()["status"] == "canceled"
    assert received[-1].event == "done"
    assert received[-1].data == {"status": "canceled"}
    stored = (await slow_client.get(base, headers=account.headers)).json()
    assert stored["status"] == "canceled"
    # The model took the prompt in, so it counts, though no usage chunk came.
    usage = next(e.data for e in received if e.event == "usage")
    assert usage["prompt_tokens"] > 0
    assert stored["usage"]["prompt_tokens"] == usage["prompt_tokens"]
    messages = await _messages(slow_client, account.headers, generation["chat_id"])
    assert messages[-1]["role"] == "assistant"
    assert messages[-1]["status"] == "incomplete"
    assert messages[-1]["content"] == text_of(received)
    # Idempotent: a second cancel answers the final state.
    again = await slow_client.post(f"{base}/cancel", headers=account.headers)
    assert again.json()["status"] == "canceled"


async def test_cancel_of_a_queued_generation(settings: ApiSettings, slow_inference: object) -> None:
    one_slot = settings.model_copy(
        update={"inference_url": slow_inference.url, "generation_concurrency": 1}  # type: ignore[attr-defined]
    )
    async with running_api(one_slot) as client:
        account = await register(client)
        running = await start_generation(client, account)
        queued = await start_generation(client, account)
        assert (running["status"], queued["status"]) == ("streaming", "queued")
        state = await client.get(f"/api/generations/{queued['id']}", headers=account.headers)
        assert state.json()["status"] == "queued"
        canceled = await client.post(
            f"/api/generations/{queued['id']}/cancel", headers=account.headers
        )
        assert canceled.json()["status"] == "canceled"
        assert canceled.json()["assistant_message_id"] is None
        received = await collect(client, f"/api/generations/{queued['id']}/stream", account.headers)
        assert [e.event for e in received] == ["usage", "done"]
        assert received[-1].data == {"status": "canceled"}
        await client.post(f"/api/generations/{running['id']}/cancel", headers=account.headers)


async def test_creates_racing_for_the_last_slot_both_go_on_at_once(
    settings: ApiSettings, slow_inference: Service
) -> None:
    """A create waits for its model request to go out, but never for a slot to free up: two
    creates that both saw the last slot free must not leave one waiting for the other's end."""
    state = AppState.build(
        settings.model_copy(
            update={
                "inference_url": slow_inference.url,
                "generation_concurrency": 1,
                "relay_in_api": False,
            }
        )
    )
    loop = asyncio.get_running_loop()
    starts = [
        FreshStart(uuid.uuid4(), [ChatTurn("user", "hi")], "any", loop.create_future())
        for _ in range(2)
    ]
    try:
        # The running answer takes 10 s; asking the model takes milliseconds.
        await asyncio.wait_for(
            asyncio.gather(*(state.runner.start_fresh(uuid.uuid4(), f) for f in starts)), 5
        )
    finally:
        for fresh in starts:
            fresh.saved.set_result(None)  # never written: both jobs stop, writing nothing
        await state.close()


async def test_cancel_racing_completion_ends_in_one_state(
    settings: ApiSettings, tmp_path: object, db: psycopg.AsyncConnection
) -> None:
    """Cancel lands around the last token, many times: the stream's done matches the database."""
    from pathlib import Path

    # A 60 ms answer and cancels spread from at once to well after its end, so that both sides
    # win some rounds even on a loaded machine.
    with serve(["inference"], scripted_env(12, 5), Path(str(tmp_path))) as inference:
        async with running_api(
            settings.model_copy(update={"inference_url": inference.url})
        ) as client:
            account = await register(client)
            outcomes: dict[str, int] = {}
            for attempt in range(30):
                generation = await start_generation(client, account, f"race {attempt}")
                base = f"/api/generations/{generation['id']}"
                await asyncio.sleep(0.02 * (attempt % 10))
                await client.post(f"{base}/cancel", headers=account.headers)
                received = await collect(client, f"{base}/stream", account.headers)
                final = (await client.get(base, headers=account.headers)).json()["status"]
                assert [e.event for e in received].count("done") == 1
                assert received[-1].data == {"status": final}
                assert final in {"succeeded", "canceled"}
                cursor = await db.execute(
                    "SELECT count(*) FROM outbox WHERE event_type = 'usage_event' "
                    "AND payload->>'generation_id' = %s",
                    (generation["id"],),
                )
                assert (await cursor.fetchone()) == (1,)
                outcomes[final] = outcomes.get(final, 0) + 1
    # Both sides of the race were run: the sleeps straddle the answer's last token.
    assert set(outcomes) == {"succeeded", "canceled"}, outcomes


async def test_a_cancel_waiting_while_the_chat_is_deleted_is_404(
    fast_redis_client: httpx.AsyncClient, redis_prefix: str, db: psycopg.AsyncConnection
) -> None:
    """The generation runs in another process, which does not answer cancels (it is about to
    be presumed dead): a cancel waiting on it when the deletion of its chat ends it learns of
    that from the stream's done, and answers that the generation is gone."""
    client = fast_redis_client
    account = await register(client)
    generation = await start_generation(client, account)
    await collect(client, f"/api/generations/{generation['id']}/stream", account.headers)
    connection = redis.Redis.from_url(REDIS_URL)
    await connection.set(f"{redis_prefix}runner:elsewhere", "1", px=60_000)
    await connection.delete(f"{redis_prefix}gen:{generation['id']}")
    await connection.aclose()
    await db.execute(
        "UPDATE generations SET status = 'streaming', runner_id = 'elsewhere' WHERE id = %s",
        (generation["id"],),
    )
    deleted = asyncio.create_task(
        client.delete(f"/api/chats/{generation['chat_id']}", headers=account.headers)
    )
    await asyncio.sleep(0.3)  # the deletion waits for the runner's end, which never comes
    canceled = await client.post(
        f"/api/generations/{generation['id']}/cancel", headers=account.headers
    )
    assert (await deleted).status_code == 204
    assert canceled.status_code == 404, canceled.text
    assert canceled.json()["error"]["code"] == "generation_not_found"


async def test_unreachable_inference_fails_cleanly(
    client_settings_unreachable: ApiSettings, caplog: pytest.LogCaptureFixture
) -> None:
    internal_address = str(client_settings_unreachable.inference_url).split("//")[1]
    async with running_api(client_settings_unreachable) as client:
        account = await register(client)
        generation = await start_generation(client, account)
        received = await collect(
            client, f"/api/generations/{generation['id']}/stream", account.headers
        )
        assert [e.event for e in received] == ["error", "usage", "done"]
        assert received[0].data["code"] == "inference_unreachable"
        assert received[-1].data == {"status": "failed"}
        stored = (
            await client.get(f"/api/generations/{generation['id']}", headers=account.headers)
        ).json()
        assert stored["status"] == "failed"
        assert stored["error"]["code"] == "inference_unreachable"
        # No model took the prompt in: nothing to count.
        assert received[1].data == {"prompt_tokens": 0, "completion_tokens": 0}
    # The user is told what happened; where the model server lives is the operator's to read.
    assert received[0].data["message"] == stored["error"]["message"]
    assert "try again" in stored["error"]["message"]
    assert internal_address not in received[0].data["message"]
    assert internal_address in caplog.text


async def test_a_busy_model_server_is_asked_again_not_failed(
    settings: ApiSettings, tmp_path: Path
) -> None:
    """A model server that takes one answer at a time refuses the others with 429 and a
    Retry-After: those wait their turn, where they used to fail at once."""
    one_at_a_time = {
        **scripted_env(20, 10),
        "INFERENCE_MAX_CONCURRENCY": "1",
        "INFERENCE_MAX_QUEUE": "0",
    }
    with serve(["inference"], one_at_a_time, tmp_path) as inference:
        async with running_api(
            settings.model_copy(update={"inference_url": inference.url})
        ) as client:
            account = await register(client)
            generations = [await start_generation(client, account) for _ in range(3)]
            streams = [
                collect(client, f"/api/generations/{g['id']}/stream", account.headers)
                for g in generations
            ]
            received = await asyncio.wait_for(asyncio.gather(*streams), 30)
        refusals = inference.output().count("429")
    assert [r[-1].data for r in received] == [{"status": "succeeded"}] * 3
    assert all(text_of(r) for r in received)
    assert refusals >= 1  # the server did refuse: the waits were the api's, not the model's


async def test_inference_killed_mid_stream_keeps_the_partial_text(
    settings: ApiSettings, tmp_path: object
) -> None:
    from pathlib import Path

    with serve(["inference"], scripted_env(400, 20), Path(str(tmp_path))) as inference:
        async with running_api(
            settings.model_copy(update={"inference_url": inference.url})
        ) as client:
            account = await register(client)
            generation = await start_generation(client, account)
            received = []
            url = f"/api/generations/{generation['id']}/stream"
            async with client.stream("GET", url, headers=account.headers) as response:
                async for event in events(response):
                    received.append(event)
                    if len(received) == 5:
                        stop(inference.process, signal.SIGKILL)
            assert received[-1].data == {"status": "failed"}
            errors = [e for e in received if e.event == "error"]
            assert len(errors) == 1
            assert errors[0].data["code"] in {
                "inference_disconnected",
                "inference_stream_truncated",
            }
            messages = await _messages(client, account.headers, generation["chat_id"])
            assert messages[-1]["status"] == "incomplete"
            assert messages[-1]["content"] == text_of(received)
            assert len(messages[-1]["content"]) > 0
            usage = next(e.data for e in received if e.event == "usage")
            assert usage["prompt_tokens"] > 0


async def test_inference_refusing_the_request_fails_the_generation(
    settings: ApiSettings, fast_inference: Service
) -> None:
    refused = settings.model_copy(
        update={"inference_url": fast_inference.url, "inference_model": "no-such-model"}
    )
    async with running_api(refused) as client:
        account = await register(client)
        generation = await start_generation(client, account)
        received = await collect(
            client, f"/api/generations/{generation['id']}/stream", account.headers
        )
        assert [e.event for e in received] == ["error", "usage", "done"]
        assert "no-such-model" in received[0].data["message"]
        assert received[-1].data == {"status": "failed"}
        messages = await _messages(client, account.headers, generation["chat_id"])
        assert [m["role"] for m in messages] == ["user"]


@pytest.mark.parametrize("status", ["queued", "streaming"])
async def test_a_generation_whose_create_reply_was_lost_still_runs(
    settings: ApiSettings, fast_inference: Service, db: psycopg.AsyncConnection, status: str
) -> None:
    """The create committed but its request failed before starting the job (a lost reply):
    the generation is queued (or, claimed by that same commit, streaming) under a live runner
    that is not running it. The runner's reaper finds it and runs it, so the client's retry
    with the same key gets an answer."""
    async with running_api(
        settings.model_copy(
            update={"inference_url": fast_inference.url, "runner_heartbeat_ttl_ms": 500}
        )
    ) as client:
        account = await register(client)
        first = await start_generation(client, account, "first")
        await collect(client, f"/api/generations/{first['id']}/stream", account.headers)
        stranded_id = await _strand_beside(db, first, status, adoptions=0)
        retry = await client.post(
            f"/api/chats/{first['chat_id']}/generations",
            headers={**account.headers, "Idempotency-Key": "lost-reply"},
        )
        assert retry.json()["id"] == str(stranded_id)
        received = await asyncio.wait_for(
            collect(client, f"/api/generations/{stranded_id}/stream", account.headers), 20
        )
        assert received[-1].data == {"status": "succeeded"}
        assert text_of(received)


async def test_a_generation_stranded_again_and_again_fails_rather_than_rerun_forever(
    settings: ApiSettings, fast_inference: Service, db: psycopg.AsyncConnection
) -> None:
    """Each run of a stranded generation counts as an adoption: one whose end could never be
    written would otherwise have its model run again at every reaper round."""
    async with running_api(
        settings.model_copy(
            update={
                "inference_url": fast_inference.url,
                "runner_heartbeat_ttl_ms": 500,
                "max_adoptions": 2,
            }
        )
    ) as client:
        account = await register(client)
        first = await start_generation(client, account, "first")
        await collect(client, f"/api/generations/{first['id']}/stream", account.headers)
        stranded_id = await _strand_beside(
            db, first, "streaming", adoptions=2, partial_text="kept so far"
        )
        received = await asyncio.wait_for(
            collect(client, f"/api/generations/{stranded_id}/stream", account.headers), 20
        )
        assert [e.event for e in received] == ["error", "usage", "done"]
        assert received[0].data["code"] == "too_many_adoptions"
        assert received[-1].data == {"status": "failed"}
        messages = await _messages(client, account.headers, first["chat_id"])
    assert (messages[-1]["content"], messages[-1]["status"]) == ("kept so far", "incomplete")


async def _strand_beside(
    db: psycopg.AsyncConnection,
    finished: dict[str, object],
    status: str,
    *,
    adoptions: int,
    partial_text: str = "",
) -> uuid.UUID:
    """A generation in `finished`'s chat, owned by its live runner, which is not running it:
    as a create whose reply was lost leaves one (Idempotency-Key `lost-reply`)."""
    cursor = await db.execute(
        "SELECT runner_id, user_message_id FROM generations WHERE id = %s", (finished["id"],)
    )
    runner_id, user_message_id = await cursor.fetchone() or (None, None)
    stranded = await db.execute(
        "INSERT INTO generations (id, chat_id, user_id, status, model, idempotency_key,"
        " user_message_id, runner_id, adoptions, partial_text, created_at)"
        " SELECT gen_random_uuid(), chat_id, user_id, %s, model, 'lost-reply',"
        " %s, %s, %s, %s, now() FROM generations WHERE id = %s RETURNING id",
        (status, user_message_id, runner_id, adoptions, partial_text, finished["id"]),
    )
    (stranded_id,) = await stranded.fetchone() or (None,)
    assert isinstance(stranded_id, uuid.UUID)
    return stranded_id

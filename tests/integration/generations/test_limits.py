"""Bounds one client cannot push the api past, on a real server: open answer streams per user
(429), and the size of a request's headers (431)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import httpx

from minichat_api.settings import ApiSettings
from tests.eventually import eventually
from tests.factories import (
    DEFAULT_PASSWORD,
    Account,
    create_chat,
    post_message,
    register,
    start_generation,
    unique_email,
)
from tests.integration.generations.conftest import running_api
from tests.processes import Service

LIMIT = 2


async def test_a_user_s_open_answer_streams_are_bounded(
    settings: ApiSettings, slow_inference: Service
) -> None:
    limited = settings.model_copy(
        update={"inference_url": slow_inference.url, "stream_max_per_user": LIMIT}
    )
    async with running_api(limited) as client, contextlib.AsyncExitStack() as held:
        account = await register(client)
        urls = [
            f"/api/generations/{(await start_generation(client, account, f'q{n}'))['id']}/stream"
            for n in range(LIMIT + 1)
        ]
        opened = [
            await held.enter_async_context(client.stream("GET", url, headers=account.headers))
            for url in urls[:LIMIT]
        ]
        assert [r.status_code for r in opened] == [200] * LIMIT

        refused = await client.get(urls[LIMIT], headers=account.headers)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "too_many_streams"
        assert int(refused.headers["retry-after"]) >= 1

        someone_else = await register(client)
        other = await start_generation(client, someone_else)
        async with client.stream(
            "GET", f"/api/generations/{other['id']}/stream", headers=someone_else.headers
        ) as theirs:
            assert theirs.status_code == 200

        await opened[0].aclose()

        async def accepted() -> bool:
            async with client.stream("GET", urls[LIMIT], headers=account.headers) as again:
                return again.status_code == 200

        await eventually(accepted, "a stream to be accepted once another closed", 10)


async def test_oversize_headers_are_431_with_the_error_shape(
    settings: ApiSettings,
) -> None:
    async with running_api(settings) as client:
        response = await client.get(
            "/api/auth/me", headers={"X-Padding": "a" * (settings.max_header_bytes + 1)}
        )
        assert response.status_code == 431, response.text
        assert response.json()["error"]["code"] == "request_header_fields_too_large"
        fine = await client.get("/healthz", headers={"X-Padding": "a" * 1000})
        assert fine.status_code == 200


async def _chat_with_question(client: httpx.AsyncClient, account: Account) -> str:
    chat = await create_chat(client, account)
    await post_message(client, account, chat["id"], "Tell me something")
    return str(chat["id"])


async def test_answers_at_once_are_bounded_per_user_across_api_processes(
    settings: ApiSettings, slow_inference: Service
) -> None:
    limited = settings.model_copy(
        update={"inference_url": slow_inference.url, "limit_concurrent_answers": LIMIT}
    )
    async with running_api(limited) as here, running_api(limited) as there:
        account = await register(here)
        chats = [await _chat_with_question(here, account) for _ in range(5)]
        # Creates racing on two processes, in five chats: the user's row lock counts them.
        responses = await asyncio.gather(
            *(
                (here if n % 2 else there).post(
                    f"/api/chats/{chat}/generations", headers=account.headers
                )
                for n, chat in enumerate(chats)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [202] * LIMIT + [429] * (5 - LIMIT), statuses
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.json()["error"]["code"] == "too_many_concurrent_answers"
        assert refused.json()["error"]["limit"] == "concurrent_answers"
        assert int(refused.headers["retry-after"]) >= 1

        someone_else = await register(there)
        assert (await start_generation(there, someone_else))["status"] in {"queued", "streaming"}

        running = next(r.json() for r in responses if r.status_code == 202)
        await here.post(f"/api/generations/{running['id']}/cancel", headers=account.headers)
        waiting = chats[next(n for n, r in enumerate(responses) if r.status_code == 429)]
        again = await here.post(f"/api/chats/{waiting}/generations", headers=account.headers)
        assert again.status_code == 202, again.text


async def test_messages_a_minute_are_bounded_per_user_across_api_processes(
    settings: ApiSettings,
) -> None:
    limited = settings.model_copy(update={"limit_messages_per_minute": LIMIT})
    async with running_api(limited) as here, running_api(limited) as there:
        account = await register(here)
        chat = await create_chat(here, account)
        url = f"/api/chats/{chat['id']}/messages"
        if time.time() % 60 > 50:  # all the posts below within one minute's window
            await asyncio.sleep(61 - time.time() % 60)
        posted = [
            await client.post(url, json={"content": f"m{n}"}, headers=account.headers)
            for n, client in enumerate((here, there, here))
        ]
        assert [r.status_code for r in posted] == [201] * LIMIT + [429]
        refused = posted[LIMIT].json()["error"]
        assert refused["code"] == "too_many_messages"
        assert refused["limit"] == "messages_per_minute"
        assert 1 <= int(posted[LIMIT].headers["retry-after"]) <= 60
        messages = await here.get(url, headers=account.headers)
        assert [m["content"] for m in messages.json()["items"]] == ["m0", "m1"]

        someone_else = await register(there)
        theirs = await create_chat(there, someone_else)
        await post_message(there, someone_else, theirs["id"], "hello")


async def test_logins_and_registrations_from_one_address_are_bounded(
    settings: ApiSettings,
) -> None:
    limited = settings.model_copy(
        update={
            "limit_logins_per_address_per_minute": LIMIT,
            "limit_registrations_per_address_per_hour": LIMIT,
            # Windows of its own: the run's other tests register from this address too.
            "redis_key_prefix": f"{settings.redis_key_prefix}{uuid.uuid4().hex[:8]}:",
        }
    )
    async with running_api(limited) as client:
        if time.time() % 60 > 50:  # the logins below within one minute's window
            await asyncio.sleep(61 - time.time() % 60)
        accounts = [await register(client) for _ in range(LIMIT)]
        refused = await client.post(
            "/api/auth/register", json={"email": unique_email(), "password": DEFAULT_PASSWORD}
        )
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["limit"] == "registrations_per_address_per_hour"

        # Different accounts, one address: counted together, before any password is checked.
        logins = [
            await client.post("/api/auth/login", json={"email": a.email, "password": a.password})
            for a in accounts
        ]
        assert [r.status_code for r in logins] == [200] * LIMIT
        flood = await client.post(
            "/api/auth/login", json={"email": unique_email(), "password": "whatever-it-is"}
        )
        assert flood.status_code == 429, flood.text
        assert flood.json()["error"]["limit"] == "logins_per_address_per_minute"
        assert 1 <= int(flood.headers["retry-after"]) <= 60

"""Bounds one client cannot push the api past, on a real server: open answer streams per user
(429), and the size of a request's headers (431)."""

from __future__ import annotations

import contextlib

from minichat_api.settings import ApiSettings
from tests.eventually import eventually
from tests.factories import register, start_generation
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

"""Admission control: N generations at once, a bounded queue, then 429 with Retry-After."""

from __future__ import annotations

import asyncio

import httpx

from minichat_inference.main import create_app
from tests.eventually import eventually
from tests.integration.inference.conftest import (
    inference_settings,
    live_server,
    state_of,
)

REQUEST = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}


async def test_beyond_the_queue_requests_get_429_with_retry_after() -> None:
    settings = inference_settings(
        inference_max_concurrency=1,
        inference_max_queue=1,
        inference_scripted_tokens=100_000,
        inference_scripted_interval_ms=5,
    )
    app = create_app(settings)
    admission = state_of(app).admission
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        # One generating (held open until we let go), one queued behind it: the server is full.
        async with http.stream("POST", "/v1/chat/completions", json=REQUEST) as running:
            lines = running.aiter_lines()
            await anext(lines)
            queued = asyncio.create_task(
                http.post("/v1/chat/completions", json={**REQUEST, "max_tokens": 2})
            )
            await eventually(lambda: admission.waiting == 1, "one request waiting")

            refused = await http.post("/v1/chat/completions", json=REQUEST)
            metrics = (await http.get("/metrics")).text

            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) >= 1
            error = refused.json()["error"]
            assert error["type"] == "rate_limit_error"
            assert error["code"] == "rate_limited"
            assert "minichat_inference_rejected_requests_total 1.0" in metrics
            assert "minichat_inference_queue_depth 1.0" in metrics
            assert "minichat_inference_active_generations 1.0" in metrics
            await running.aclose()

        # The queued request is served once the slot frees, and then there is room again.
        assert (await queued).status_code == 200
        again = await http.post("/v1/chat/completions", json={**REQUEST, "max_tokens": 2})
        assert again.status_code == 200
        await eventually(
            lambda: admission.active == admission.waiting == 0,
            "admission.active == admission.waiting == 0",
        )


async def test_no_queue_means_refusing_as_soon_as_all_slots_are_busy() -> None:
    settings = inference_settings(
        inference_max_concurrency=2,
        inference_max_queue=0,
        inference_scripted_tokens=100_000,
        inference_scripted_interval_ms=5,
    )
    app = create_app(settings)
    admission = state_of(app).admission
    async with (
        live_server(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        http.stream("POST", "/v1/chat/completions", json=REQUEST) as first,
        http.stream("POST", "/v1/chat/completions", json=REQUEST) as second,
    ):
        assert first.status_code == second.status_code == 200
        assert admission.active == 2
        refused = await http.post("/v1/chat/completions", json=REQUEST)
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
        await first.aclose()
        await second.aclose()
        await eventually(lambda: admission.active == 0, "every slot to be free")
        short = await http.post("/v1/chat/completions", json={**REQUEST, "max_tokens": 2})
        assert short.status_code == 200

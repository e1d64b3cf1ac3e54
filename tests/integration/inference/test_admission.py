"""Admission control: N generations at once, a bounded queue, then 429 with Retry-After."""

from __future__ import annotations

import asyncio

import httpx

from tests.integration.inference.conftest import (
    app_client,
    inference_settings,
    state_of,
    wait_until,
)

REQUEST = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}


async def test_beyond_the_queue_requests_get_429_with_retry_after() -> None:
    settings = inference_settings(
        inference_max_concurrency=1,
        inference_max_queue=1,
        inference_scripted_tokens=1000,
        inference_scripted_interval_ms=5,
    )
    async with app_client(settings) as (http, app):
        admission = state_of(app).admission

        async def generate(max_tokens: int) -> httpx.Response:
            return await http.post(
                "/v1/chat/completions", json={**REQUEST, "max_tokens": max_tokens}
            )

        # One generating (long), one queued behind it: the server is full.
        running = asyncio.create_task(generate(200))
        await wait_until(lambda: admission.active == 1)
        queued = asyncio.create_task(generate(2))
        await wait_until(lambda: admission.waiting == 1)

        refused = await generate(2)
        metrics = (await http.get("/metrics")).text

        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        error = refused.json()["error"]
        assert error["type"] == "rate_limit_error"
        assert error["code"] == "rate_limited"
        assert "minichat_inference_rejected_requests_total 1.0" in metrics
        assert "minichat_inference_queue_depth 1.0" in metrics
        assert "minichat_inference_active_generations 1.0" in metrics

        # The queued request is served once the slot frees, and then there is room again.
        assert (await running).status_code == 200
        assert (await queued).status_code == 200
        assert (await generate(2)).status_code == 200
        assert admission.active == admission.waiting == 0


async def test_no_queue_means_refusing_as_soon_as_all_slots_are_busy() -> None:
    settings = inference_settings(
        inference_max_concurrency=2,
        inference_max_queue=0,
        inference_scripted_tokens=1000,
        inference_scripted_interval_ms=5,
    )
    async with app_client(settings) as (http, app):
        admission = state_of(app).admission
        body = {**REQUEST, "max_tokens": 100}
        first = asyncio.create_task(http.post("/v1/chat/completions", json=body))
        second = asyncio.create_task(http.post("/v1/chat/completions", json=body))
        await wait_until(lambda: admission.active == 2)
        refused = await http.post("/v1/chat/completions", json=body)
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
        assert (await first).status_code == (await second).status_code == 200

"""A caller that disconnects stops the generation: the backend decodes no more tokens."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from minichat_inference.main import create_app
from tests.eventually import eventually
from tests.integration.inference.conftest import (
    inference_settings,
    live_server,
    state_of,
)

TOTAL = 10_000


async def test_disconnect_mid_stream_stops_the_scripted_backend() -> None:
    app = create_app(
        inference_settings(inference_scripted_tokens=TOTAL, inference_scripted_interval_ms=2)
    )
    state = state_of(app)
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        body = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}
        received = 0
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    received += 1
                if received == 5:
                    break  # leaving the block closes the connection
        await eventually(lambda: state.admission.active == 0, "every slot to be free")
        decoded = state.backend.decoded_tokens
        # Once the slot is free the backend has stopped; nothing more is decoded afterwards.
        assert decoded < TOTAL
        async with httpx.AsyncClient(base_url=url) as probe:
            metrics = (await probe.get("/metrics")).text
        assert state.backend.decoded_tokens == decoded
        assert 'outcome="cancelled"} 1.0' in metrics


async def test_disconnect_while_queued_leaves_the_queue() -> None:
    app = create_app(
        inference_settings(
            inference_max_concurrency=1,
            inference_scripted_tokens=TOTAL,
            inference_scripted_interval_ms=2,
        )
    )
    state = state_of(app)
    body = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        async with http.stream("POST", "/v1/chat/completions", json=body) as first:
            # Held, not abandoned: dropping a line iterator closes the connection.
            lines = first.aiter_lines()
            await anext(lines)
            async with httpx.AsyncClient(base_url=url, timeout=30) as other:
                queued = asyncio.create_task(other.post("/v1/chat/completions", json=body))
                await eventually(
                    lambda: state.admission.waiting == 1, "state.admission.waiting == 1"
                )
                queued.cancel()  # the client gives up while still in the queue
                with contextlib.suppress(asyncio.CancelledError):
                    await queued
            # The server notices while the request waits, not when a slot frees up.
            await eventually(lambda: state.admission.waiting == 0, "the queue to empty")
            assert state.admission.active == 1
            await first.aclose()
        await eventually(lambda: state.admission.active == 0, "every slot to be free")


async def test_disconnect_during_a_non_streaming_request_stops_it() -> None:
    app = create_app(
        inference_settings(inference_scripted_tokens=TOTAL, inference_scripted_interval_ms=2)
    )
    state = state_of(app)
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        waiting = asyncio.create_task(http.post("/v1/chat/completions", json=body))
        await eventually(
            lambda: state.backend.decoded_tokens >= 5, "state.backend.decoded_tokens >= 5"
        )
        waiting.cancel()  # the client gives up on the whole answer
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        await eventually(lambda: state.admission.active == 0, "every slot to be free")
        decoded = state.backend.decoded_tokens
        assert decoded < TOTAL
        await asyncio.sleep(0.05)  # a few more scripted intervals: nothing is decoded
        assert state.backend.decoded_tokens == decoded

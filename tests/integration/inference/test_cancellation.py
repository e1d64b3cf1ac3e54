"""A caller that disconnects stops the generation: the backend decodes no more tokens."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import MutableMapping
from typing import Any

import httpx

from minichat_inference.main import create_app
from tests.eventually import eventually
from tests.integration.inference.conftest import (
    app_client,
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


async def test_a_send_failing_mid_stream_frees_the_slot_before_the_request_returns() -> None:
    """uvicorn (ASGI 2.4) reports a gone client only by failing a send, while the body iterator
    is suspended at its yield; the slot must be free when the request returns, not when the
    garbage collector finds the iterator (a cycle can keep it for minutes)."""
    settings = inference_settings(inference_scripted_tokens=TOTAL, inference_scripted_interval_ms=2)
    async with app_client(settings) as (_http, app):
        state = state_of(app)
        request = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "stream": True})
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 2),
            "state": {},
        }
        bodies_sent = 0
        requests = [{"type": "http.request", "body": request.encode(), "more_body": False}]

        async def receive() -> dict[str, object]:
            if requests:
                return requests.pop()
            await asyncio.Event().wait()  # no disconnect message: the send is what fails
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal bodies_sent
            if message["type"] == "http.response.body":
                bodies_sent += 1
                if bodies_sent == 3:
                    raise OSError("the client is gone")

        with contextlib.suppress(Exception):
            await app(scope, receive, send)
        assert bodies_sent == 3
        assert state.admission.active == 0

"""The openai backend against real upstreams: llama-cpp-python's own server on the same GGUF, and
this service (scripted) serving as an upstream of another instance; upstream failures map to
clear errors."""

from __future__ import annotations

import json

import httpx
import pytest

from minichat_inference.main import create_app
from tests.eventually import eventually
from tests.integration.inference.conftest import (
    app_client,
    inference_settings,
    live_server,
    state_of,
)
from tests.processes import free_port

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.mark.model
async def test_streams_from_llama_cpp_server(llama_server: str) -> None:
    settings = inference_settings(inference_backend="openai", inference_upstream_url=llama_server)
    async with app_client(settings) as (http, _app):
        models = (await http.get("/v1/models")).json()
        streamed = await http.post(
            "/v1/chat/completions",
            json={
                "messages": QUESTION,
                "max_tokens": 8,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        whole = await http.post(
            "/v1/chat/completions",
            json={"model": "gemma-upstream", "messages": QUESTION, "max_tokens": 8},
        )
    assert models["data"][0]["id"] == "gemma-upstream"  # discovered from the upstream
    assert streamed.status_code == 200, streamed.text
    lines = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.strip()
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    assert whole.status_code == 200, whole.text
    assert whole.json()["choices"][0]["message"]["content"].strip()
    assert 0 < whole.json()["usage"]["completion_tokens"] <= 8


@pytest.mark.model
async def test_upstream_failing_mid_request_is_a_clear_503(llama_server: str) -> None:
    settings = inference_settings(inference_backend="openai", inference_upstream_url=llama_server)
    async with app_client(settings) as (http, _app):
        # Longer than the upstream's 2048-token context: llama_cpp.server answers 200 and then
        # drops the stream; we report that instead of an empty answer.
        huge = [{"role": "user", "content": "word " * 4000}]
        response = await http.post("/v1/chat/completions", json={"messages": huge})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "inference_stream_truncated"


async def test_upstream_errors_keep_their_meaning() -> None:
    """Upstream 400 stays a 400 (with the upstream's words), upstream 429 stays a 429."""
    upstream_app = create_app(
        inference_settings(
            inference_max_concurrency=1,
            inference_max_queue=0,
            inference_scripted_tokens=10_000,
            inference_scripted_interval_ms=2,
        )
    )
    async with live_server(upstream_app) as upstream_url:
        front = inference_settings(
            inference_backend="openai",
            inference_upstream_url=upstream_url,
            inference_model="a-name-the-upstream-does-not-know",
        )
        async with app_client(front) as (http, _app):
            rejected = await http.post("/v1/chat/completions", json={"messages": QUESTION})
        assert rejected.status_code == 400
        assert rejected.json()["error"]["code"] == "model_not_found"
        assert "a-name-the-upstream-does-not-know" in rejected.json()["error"]["message"]

        async with (
            httpx.AsyncClient(base_url=upstream_url, timeout=30) as direct,
            direct.stream(
                "POST", "/v1/chat/completions", json={"messages": QUESTION, "stream": True}
            ) as busy,
        ):
            assert busy.status_code == 200
            front = inference_settings(
                inference_backend="openai", inference_upstream_url=upstream_url
            )
            async with app_client(front) as (http, _app):
                refused = await http.post("/v1/chat/completions", json={"messages": QUESTION})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1


async def test_unreachable_upstream_is_a_clear_503() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = inference_settings(
        inference_backend="openai", inference_upstream_url=dead, inference_model="m"
    )
    async with app_client(settings) as (http, _app):
        response = await http.post("/v1/chat/completions", json={"messages": QUESTION})
        stream = await http.post(
            "/v1/chat/completions", json={"messages": QUESTION, "stream": True}
        )
    for answer in (response, stream):
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "inference_unreachable"
        assert dead in error["message"]


async def test_not_ready_until_the_upstream_names_a_model() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = inference_settings(inference_backend="openai", inference_upstream_url=dead)
    async with app_client(settings) as (http, _app):
        assert (await http.get("/readyz")).status_code == 503


async def test_chained_through_another_instance_with_api_key_and_cancellation() -> None:
    """An inference plane in front of another one (scripted): deltas, usage, the API key sent,
    and a disconnect at the front stopping the generation at the back."""
    seen_keys: list[str | None] = []
    upstream_app = create_app(
        inference_settings(inference_scripted_tokens=10_000, inference_scripted_interval_ms=2)
    )

    @upstream_app.middleware("http")
    async def record_key(request: httpx.Request, call_next):  # type: ignore[no-untyped-def]
        seen_keys.append(request.headers.get("authorization"))
        return await call_next(request)

    upstream_state = state_of(upstream_app)
    async with live_server(upstream_app) as upstream_url:
        settings = inference_settings(
            inference_backend="openai",
            inference_upstream_url=upstream_url,
            inference_upstream_api_key="sk-test",
        )
        front_app = create_app(settings)
        async with (
            live_server(front_app) as front_url,
            httpx.AsyncClient(base_url=front_url, timeout=30) as http,
        ):
            short = await http.post(
                "/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 3}
            )
            assert short.json()["choices"][0]["message"]["content"] == "This is a"
            assert short.json()["usage"]["completion_tokens"] == 3
            # Continuation is passed on to the upstream, which goes on from the given text.
            resumed = await http.post(
                "/v1/chat/completions",
                json={
                    "messages": [*QUESTION, {"role": "assistant", "content": "This is a"}],
                    "continue_final_message": True,
                    "max_tokens": 2,
                },
            )
            assert resumed.json()["choices"][0]["message"]["content"] == " scripted reply"
            received = 0
            body = {"messages": QUESTION, "stream": True}
            async with http.stream("POST", "/v1/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    received += line.startswith("data: ")
                    if received == 3:
                        break
            await eventually(
                lambda: upstream_state.admission.active == 0, "upstream_state.admission.active == 0"
            )
            assert upstream_state.backend.decoded_tokens < 10_000
    assert seen_keys and all(key == "Bearer sk-test" for key in seen_keys)

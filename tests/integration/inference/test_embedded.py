"""The embedded backend really generates with the real Gemma 3 270M model (loaded once)."""

from __future__ import annotations

import json

import httpx
import pytest

from minichat_inference.backends.embedded import EmbeddedBackend
from minichat_inference.main import create_app
from minichat_inference.model_store import MODEL_ID
from minichat_inference.settings import InferenceSettings
from tests.eventually import eventually
from tests.integration.inference.conftest import (
    app_client,
    inference_settings,
    live_server,
    state_of,
)

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def embedded_settings() -> InferenceSettings:
    return inference_settings(inference_backend="embedded", inference_max_concurrency=2)


async def test_short_greedy_completion(embedded_backend: EmbeddedBackend) -> None:
    async with app_client(embedded_settings(), embedded_backend) as (http, _app):
        assert (await http.get("/readyz")).status_code == 200
        response = await http.post(
            "/v1/chat/completions",
            json={"model": MODEL_ID, "messages": QUESTION, "max_tokens": 16, "temperature": 0},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    text = body["choices"][0]["message"]["content"]
    assert text.strip() == text and text
    assert "Paris" in text
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 16
    assert usage["prompt_tokens"] > 10
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_streaming_counts_tokens(embedded_backend: EmbeddedBackend) -> None:
    request = {
        "messages": QUESTION,
        "max_tokens": 4,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with app_client(embedded_settings(), embedded_backend) as (http, app):
        response = await http.post("/v1/chat/completions", json=request)
        metrics = (await http.get("/metrics")).text
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert state_of(app).admission.max_concurrency == 1  # one llama context, one at a time
    assert 'minichat_inference_generated_tokens_total{backend="embedded"} 4.0' in metrics


async def test_continuation_extends_the_assistant_text(embedded_backend: EmbeddedBackend) -> None:
    partial = "The capital of France"
    messages = [*QUESTION, {"role": "assistant", "content": partial}]
    async with app_client(embedded_settings(), embedded_backend) as (http, _app):
        response = await http.post(
            "/v1/chat/completions",
            json={"messages": messages, "continue_final_message": True, "max_tokens": 8},
        )
    assert response.status_code == 200, response.text
    continuation = response.json()["choices"][0]["message"]["content"]
    # It goes on from the words it was given (" is Paris."), rather than starting a new answer.
    assert continuation.startswith(" ")
    assert "Paris" in continuation
    assert not continuation.strip().startswith(partial)


async def test_context_overflow_is_a_400(embedded_backend: EmbeddedBackend) -> None:
    huge = [{"role": "user", "content": "word " * 9000}]
    async with app_client(embedded_settings(), embedded_backend) as (http, _app):
        response = await http.post("/v1/chat/completions", json={"messages": huge})
        too_many = await http.post(
            "/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 100_000}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert response.json()["error"]["param"] == "messages"
    assert too_many.status_code == 400
    assert too_many.json()["error"]["param"] == "max_tokens"


async def test_disconnect_stops_decoding(embedded_backend: EmbeddedBackend) -> None:
    app = create_app(embedded_settings(), embedded_backend)
    state = state_of(app)
    request = {
        "messages": [{"role": "user", "content": "Tell me a very long story about dragons."}],
        "max_tokens": 400,
        "stop": ["THE END"],
        "temperature": 0.8,
        "seed": 1,
        "stream": True,
    }
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        before = embedded_backend.decoded_tokens
        received = 0
        async with http.stream("POST", "/v1/chat/completions", json=request) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                received += line.startswith("data: ")
                if received == 2:
                    break
        await eventually(lambda: state.admission.active == 0, "every slot to be free")
        decoded = embedded_backend.decoded_tokens - before
        # Two chunks read, then gone: a handful of tokens were decoded (4 here on 2 cores), far
        # from the 400 asked for. The slot is only released once the decode thread has stopped,
        # so the count is final.
        assert decoded < 50
        assert embedded_backend.decoded_tokens - before == decoded
        # The model is free again at once.
        after = await http.post(
            "/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 2}
        )
        assert after.status_code == 200

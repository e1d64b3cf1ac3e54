"""The inference plane on the scripted backend: the OpenAI protocol, probes and metrics."""

from __future__ import annotations

import json
from typing import Any

from minichat_inference.backends.scripted import MODEL_ID, scripted_text
from minichat_inference.main import create_app
from tests.integration.inference.conftest import app_client, inference_settings, live_server

USER = [{"role": "user", "content": "Hello there"}]


def data_lines(body: str) -> list[str]:
    return [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]


def chunks_of(body: str) -> list[dict[str, Any]]:
    lines = data_lines(body)
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


async def test_non_streaming_completion() -> None:
    async with app_client(inference_settings()) as (http, _app):
        response = await http.post(
            "/v1/chat/completions", json={"model": MODEL_ID, "messages": USER}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL_ID
    assert body["choices"][0]["message"] == {"role": "assistant", "content": scripted_text(8)}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 8
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 8


async def test_streaming_sends_chunks_then_usage_then_done() -> None:
    async with app_client(inference_settings()) as (http, _app):
        response = await http.post(
            "/v1/chat/completions",
            json={"messages": USER, "stream": True, "stream_options": {"include_usage": True}},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = chunks_of(response.text)
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == scripted_text(8)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 8


async def test_streaming_without_include_usage_sends_no_usage_chunk() -> None:
    async with app_client(inference_settings()) as (http, _app):
        response = await http.post("/v1/chat/completions", json={"messages": USER, "stream": True})
    chunks = chunks_of(response.text)
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_max_tokens_cuts_the_answer_with_finish_reason_length() -> None:
    async with app_client(inference_settings()) as (http, _app):
        response = await http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 3})
    body = response.json()
    assert body["choices"][0]["message"]["content"] == scripted_text(3)
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


async def test_array_content_is_accepted() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    async with app_client(inference_settings()) as (http, _app):
        response = await http.post("/v1/chat/completions", json={"messages": messages})
    assert response.status_code == 200


async def test_models_lists_the_served_model() -> None:
    async with app_client(inference_settings(inference_model="my-model")) as (http, _app):
        models = (await http.get("/v1/models")).json()
        chosen = await http.post(
            "/v1/chat/completions", json={"model": "my-model", "messages": USER}
        )
    assert models == {
        "object": "list",
        "data": [{"id": "my-model", "object": "model", "created": 0, "owned_by": "minichat"}],
    }
    assert chosen.status_code == 200


async def test_probes() -> None:
    async with app_client(inference_settings()) as (http, _app):
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        heads = [(await http.head(p)).status_code for p in ("/healthz", "/readyz", "/metrics")]
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert heads == [200, 200, 200]


async def test_metrics_count_tokens_and_requests() -> None:
    async with app_client(inference_settings()) as (http, _app):
        await http.post("/v1/chat/completions", json={"messages": USER, "stream": True})
        metrics = (await http.get("/metrics")).text
    assert 'minichat_inference_generated_tokens_total{backend="scripted"} 8.0' in metrics
    assert 'minichat_inference_generations_total{backend="scripted",outcome="stop"} 1.0' in metrics
    assert (
        'minichat_inference_request_duration_seconds_count{route="/v1/chat/completions",'
        'status="200"} 1.0'
    ) in metrics
    assert "minichat_inference_time_to_first_token_seconds_bucket" in metrics
    assert "minichat_inference_active_generations 0.0" in metrics
    assert "minichat_inference_queue_depth 0.0" in metrics
    assert "minichat_inference_ready 1.0" in metrics


async def test_unknown_route_is_an_openai_shaped_404() -> None:
    async with app_client(inference_settings()) as (http, _app):
        response = await http.get("/v1/nothing")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_client_reads_the_service() -> None:
    """The core client (which the api uses) against this service over real HTTP."""
    from minichat.contracts.inference import ChatCompletionRequest
    from minichat.inference_client import ContentDelta, InferenceClient, StreamEnd

    app = create_app(inference_settings())
    async with live_server(app) as url, InferenceClient(url) as client:
        request = ChatCompletionRequest.model_validate({"messages": USER})
        events = [event async for event in client.stream_chat(request)]
        completion = await client.complete(request)
        models = await client.models()
    text = "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert text == scripted_text(8)
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.finish_reason == "stop"
    assert end.usage is not None
    assert end.usage.completion_tokens == 8
    assert completion.choices[0].message.content == scripted_text(8)
    assert models.data[0].id == MODEL_ID

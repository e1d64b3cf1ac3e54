"""Bad requests are 400s in OpenAI's error shape, naming the parameter; never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.inference.conftest import app_client, inference_settings

USER = [{"role": "user", "content": "Hi"}]


def body(**fields: Any) -> bytes:
    return json.dumps({"messages": USER, **fields}).encode()


CASES = [
    pytest.param(b"{", None, "invalid_json", id="malformed-json"),
    pytest.param(b"", None, "invalid_json", id="empty-body"),
    pytest.param(b"[1, 2]", None, "invalid_json", id="not-an-object"),
    pytest.param(b"{}", "messages", "missing_required_parameter", id="no-messages-field"),
    pytest.param(json.dumps({"messages": []}).encode(), "messages", "invalid_value", id="empty"),
    pytest.param(
        json.dumps({"messages": [{"role": "robot", "content": "x"}]}).encode(),
        "messages.0.role",
        "invalid_value",
        id="unknown-role",
    ),
    pytest.param(
        json.dumps({"messages": [{"role": "user"}]}).encode(),
        "messages.0.content",
        "missing_required_parameter",
        id="no-content",
    ),
    pytest.param(
        json.dumps({"messages": [{"role": "user", "content": 5}]}).encode(),
        "messages.0.content",
        "invalid_value",
        id="content-not-text",
    ),
    pytest.param(json.dumps({"messages": "hi"}).encode(), "messages", "invalid_value", id="str"),
    pytest.param(body(max_tokens=0), "max_tokens", "invalid_value", id="max-tokens-zero"),
    pytest.param(body(max_tokens=10**9), "max_tokens", "invalid_value", id="max-tokens-huge"),
    pytest.param(body(max_tokens="5"), "max_tokens", "invalid_value", id="max-tokens-string"),
    pytest.param(body(max_tokens=2.5), "max_tokens", "invalid_value", id="max-tokens-float"),
    pytest.param(body(temperature=7), "temperature", "invalid_value", id="temperature-range"),
    pytest.param(body(temperature="hot"), "temperature", "invalid_value", id="temperature-type"),
    pytest.param(body(stream="yes"), "stream", "invalid_value", id="stream-type"),
    pytest.param(body(n=2), "n", "invalid_value", id="several-choices"),
    pytest.param(body(model="gpt-9"), "model", "model_not_found", id="unknown-model"),
    pytest.param(body(model=3), "model", "invalid_value", id="model-type"),
    pytest.param(
        body(continue_final_message=True),
        "continue_final_message",
        "invalid_value",
        id="continue-without-assistant",
    ),
]


@pytest.mark.parametrize(("content", "param", "code"), CASES)
async def test_bad_request_is_a_400(content: bytes, param: str | None, code: str) -> None:
    async with app_client(inference_settings()) as (http, _app):
        response = await http.post(
            "/v1/chat/completions", content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["code"] == code
    assert error["message"]


async def test_body_too_large_is_a_400() -> None:
    settings = inference_settings(max_request_bytes=2048)
    big = body(stop="x" * 4096)
    async with app_client(settings) as (http, _app):
        declared = await http.post("/v1/chat/completions", content=big)

        async def chunked() -> Any:
            yield big[:1000]
            yield big[1000:]

        streamed = await http.post("/v1/chat/completions", content=chunked())
    for response in (declared, streamed):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "request_too_large"


async def test_wrong_method_is_an_openai_shaped_error() -> None:
    async with app_client(inference_settings()) as (http, _app):
        response = await http.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"

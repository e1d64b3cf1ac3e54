"""The OpenAI client's pure parts: base URLs, the body it sends, how it reads errors."""

from __future__ import annotations

import pytest

from minichat.contracts.inference import ChatCompletionRequest
from minichat.errors import InvalidInput, RateLimited, Unavailable
from minichat.inference_client import (
    _data_of,
    _parse_chunk,
    _status_error,
    api_base,
    request_body,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8001", "http://h:8001/v1"),
        ("http://h:8001/", "http://h:8001/v1"),
        ("http://h:11434/v1", "http://h:11434/v1"),
        ("https://api.example/v1/", "https://api.example/v1"),
    ],
)
def test_api_base(given: str, expected: str) -> None:
    assert api_base(given) == expected


def test_body_sends_only_what_was_set() -> None:
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    )
    assert request_body(request, stream=True) == {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 4,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_continuation_body_turns_off_the_generation_prompt() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hel"},
            ],
            "continue_final_message": True,
        }
    )
    body = request_body(request, stream=False)
    assert body["continue_final_message"] is True
    assert body["add_generation_prompt"] is False


def test_sse_lines() -> None:
    assert _data_of('data: {"a": 1}') == '{"a": 1}'
    assert _data_of("data:[DONE]") == "[DONE]"
    assert _data_of(": keep-alive") is None
    assert _data_of("") is None
    assert _data_of("event: x") is None


def test_error_mapping() -> None:
    headers = {"retry-after": "7"}
    busy = _status_error(429, headers, b'{"error": {"message": "full", "code": "rate_limited"}}')
    assert isinstance(busy, RateLimited)
    assert busy.retry_after_seconds == 7
    bad = _status_error(400, {}, b'{"error": {"message": "no", "param": "x"}}')
    assert isinstance(bad, InvalidInput)
    assert bad.message == "no"
    unknown_model = _status_error(
        404, {}, b'{"error": {"message": "nope", "code": "model_not_found"}}'
    )
    assert isinstance(unknown_model, InvalidInput)
    auth = _status_error(401, {}, b"denied")
    assert isinstance(auth, Unavailable)
    assert auth.code == "inference_auth_failed"
    broken = _status_error(502, {}, b"<html>bad gateway</html>")
    assert isinstance(broken, Unavailable)
    assert "bad gateway" in broken.message


def test_mid_stream_error_and_garbage_are_unavailable() -> None:
    with pytest.raises(Unavailable) as failed:
        _parse_chunk('{"error": {"message": "out of memory", "type": "server_error"}}')
    assert "out of memory" in failed.value.message
    with pytest.raises(Unavailable) as garbage:
        _parse_chunk("<html>")
    assert garbage.value.code == "inference_bad_response"
    assert _parse_chunk('{"choices": []}') == {"choices": []}

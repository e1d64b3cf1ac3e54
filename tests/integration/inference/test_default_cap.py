"""A request without max_tokens is capped at INFERENCE_DEFAULT_MAX_TOKENS; its own limit wins."""

from __future__ import annotations

from minichat_inference.backends.scripted import scripted_text
from tests.integration.inference.conftest import app_client, inference_settings

USER = [{"role": "user", "content": "Hello there"}]


async def test_an_answer_without_max_tokens_stops_at_the_default_cap() -> None:
    settings = inference_settings(inference_scripted_tokens=40, inference_default_max_tokens=5)
    async with app_client(settings) as (http, _app):
        capped = await http.post("/v1/chat/completions", json={"messages": USER})
        own = await http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 12})

    assert capped.status_code == 200, capped.text
    assert capped.json()["choices"][0]["message"]["content"] == scripted_text(5)
    assert capped.json()["choices"][0]["finish_reason"] == "length"
    assert capped.json()["usage"]["completion_tokens"] == 5
    # A request's own max_tokens wins, above the default too.
    assert own.json()["usage"]["completion_tokens"] == 12
    assert own.json()["choices"][0]["finish_reason"] == "length"


def test_the_default_cap_is_a_thousand_tokens() -> None:
    assert inference_settings().inference_default_max_tokens == 1024

"""The embedded model samples by default (INFERENCE_TEMPERATURE, INFERENCE_TOP_P,
INFERENCE_REPEAT_PENALTY), a request's own values win, and `temperature: 0` stays greedy; and an
answer without max_tokens stops at INFERENCE_DEFAULT_MAX_TOKENS. The real Gemma model.

Seeds make sampled answers reproducible, so "differs" is a fact here, not a likelihood: with
greedy decoding two seeds give one answer, with sampling two seeds give two."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from minichat_inference.backends import build_backend
from minichat_inference.backends.embedded import EmbeddedBackend, Sampling
from tests.integration.inference.conftest import app_client, inference_settings

pytestmark = pytest.mark.model

STORY = [{"role": "user", "content": "Tell me a story about a fox and a crow."}]


def embedded_settings(**overrides: Any) -> Any:
    return inference_settings(inference_backend="embedded", **overrides)


@pytest.fixture
def greedy_by_default(embedded_backend: EmbeddedBackend) -> Iterator[EmbeddedBackend]:
    """The shared model as INFERENCE_TEMPERATURE=0 builds it, for one test."""
    shared = embedded_backend.sampling
    embedded_backend.sampling = Sampling(temperature=0)
    yield embedded_backend
    embedded_backend.sampling = shared


async def _answer(http: httpx.AsyncClient, **request: Any) -> str:
    body = {"messages": STORY, "max_tokens": 24, **request}
    response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


async def test_unset_sampling_samples_and_temperature_zero_is_greedy(
    embedded_backend: EmbeddedBackend,
) -> None:
    async with app_client(embedded_settings(), embedded_backend) as (http, _app):
        sampled = {await _answer(http, seed=seed) for seed in (1, 2)}
        greedy = {await _answer(http, seed=seed, temperature=0) for seed in (1, 2)}
    assert len(sampled) == 2
    assert len(greedy) == 1


async def test_the_settings_defaults_apply_and_a_request_overrides_them(
    greedy_by_default: EmbeddedBackend,
) -> None:
    async with app_client(embedded_settings(), greedy_by_default) as (http, _app):
        by_default = {await _answer(http, seed=seed) for seed in (1, 2)}
        asked = {await _answer(http, seed=seed, temperature=1.0) for seed in (1, 2)}
        unpenalised = await _answer(http, max_tokens=48, repetition_penalty=1.0)
        penalised = await _answer(http, max_tokens=48, repetition_penalty=1.6)
    assert len(by_default) == 1
    assert len(asked) == 2
    assert unpenalised != penalised


def test_the_backend_is_built_with_the_sampling_settings() -> None:
    backend = build_backend(
        embedded_settings(
            inference_temperature=0.3, inference_top_p=0.5, inference_repeat_penalty=1.3
        )
    )
    default = build_backend(embedded_settings())
    assert isinstance(backend, EmbeddedBackend) and isinstance(default, EmbeddedBackend)
    assert backend.sampling == Sampling(temperature=0.3, top_p=0.5, repeat_penalty=1.3)
    assert default.sampling == Sampling(temperature=0.7, top_p=0.9, repeat_penalty=1.1)


async def test_an_answer_without_max_tokens_stops_at_the_default_cap(
    embedded_backend: EmbeddedBackend,
) -> None:
    settings = embedded_settings(inference_default_max_tokens=6)
    async with app_client(settings, embedded_backend) as (http, _app):
        response = await http.post("/v1/chat/completions", json={"messages": STORY})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] == 6

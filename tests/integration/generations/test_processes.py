"""Several api processes sharing PostgreSQL and Redis: resume, cancel and adoption across them."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from minichat_inference.backends.scripted import scripted_text
from tests.conftest import REDIS_URL, TEST_JWT_SECRET
from tests.factories import DEFAULT_PASSWORD, unique_email
from tests.integration.generations.conftest import scripted_env
from tests.processes import Service, serve, stop
from tests.sse import Event, collect, events, text_of

TOKENS = 150


@dataclass
class Cluster:
    a: Service
    b: Service
    headers: dict[str, str]


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    logs = tmp_path_factory.mktemp("cluster-inference")
    with serve(["inference"], scripted_env(TOKENS, 20), logs) as service:
        yield service


def _cluster_env(database_url: str, redis_prefix: str, inference: Service) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "INFERENCE_URL": inference.url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "RUNNER_HEARTBEAT_TTL_MS": "1500",
        "REAPER_INTERVAL_MS": "200",
        "CHECKPOINT_EVERY_TOKENS": "8",
    }


@contextmanager
def _running(env: dict[str, str], log_dir: Path) -> Iterator[Cluster]:
    with serve(["api"], env, log_dir) as a, serve(["api"], env, log_dir) as b:
        registered = httpx.post(
            f"{a.url}/api/auth/register",
            json={"email": unique_email(), "password": DEFAULT_PASSWORD},
        ).json()
        yield Cluster(a, b, {"Authorization": f"Bearer {registered['access_token']}"})


@pytest.fixture
def cluster(
    database_url: str, redis_prefix: str, inference: Service, tmp_path: Path
) -> Iterator[Cluster]:
    with _running(_cluster_env(database_url, redis_prefix, inference), tmp_path) as running:
        yield running


def _start(cluster: Cluster) -> str:
    chat = httpx.post(f"{cluster.a.url}/api/chats", json={}, headers=cluster.headers).json()
    httpx.post(
        f"{cluster.a.url}/api/chats/{chat['id']}/messages",
        json={"content": "Tell me something"},
        headers=cluster.headers,
    )
    generation = httpx.post(
        f"{cluster.a.url}/api/chats/{chat['id']}/generations", headers=cluster.headers
    )
    assert generation.status_code == 202
    return str(generation.json()["id"])


async def _get(service: Service, path: str, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=service.url) as client:
        body: dict[str, Any] = (await client.get(path, headers=headers)).json()
        return body


async def _read(url: str, path: str, headers: dict[str, str], **kwargs: object) -> list[Event]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await collect(client, path, headers, **kwargs)  # type: ignore[arg-type]


async def test_resume_on_another_process(cluster: Cluster) -> None:
    generation_id = _start(cluster)
    path = f"/api/generations/{generation_id}/stream"
    first = await _read(cluster.a.url, path, cluster.headers, stop_after=5)
    rest = await _read(cluster.b.url, path, cluster.headers, last_event_id=first[-1].id)
    received = first + rest
    deltas = [e.data["index"] for e in received if e.event == "delta"]
    assert deltas == list(range(len(deltas)))
    assert text_of(received) == scripted_text(TOKENS)
    assert received[-1].data == {"status": "succeeded"}


async def test_cancel_from_another_process(cluster: Cluster) -> None:
    generation_id = _start(cluster)
    path = f"/api/generations/{generation_id}/stream"
    received: list[Event] = []
    async with (
        httpx.AsyncClient(base_url=cluster.a.url, timeout=60) as on_a,
        on_a.stream("GET", path, headers=cluster.headers) as response,
    ):
        async for event in events(response):
            received.append(event)
            if len(received) == 3:
                async with httpx.AsyncClient(base_url=cluster.b.url) as on_b:
                    canceled = await on_b.post(
                        f"/api/generations/{generation_id}/cancel", headers=cluster.headers
                    )
                assert canceled.json()["status"] == "canceled"
    assert received[-1].data == {"status": "canceled"}
    assert len([e for e in received if e.event == "delta"]) < TOKENS
    stored = await _get(cluster.b, f"/api/generations/{generation_id}", cluster.headers)
    assert stored["status"] == "canceled"


async def test_killed_process_generation_is_adopted_and_finished(cluster: Cluster) -> None:
    generation_id = _start(cluster)
    path = f"/api/generations/{generation_id}/stream"
    first = await _read(cluster.a.url, path, cluster.headers, stop_after=20)
    stop(cluster.a.process, signal.SIGKILL)

    rest = await _read(cluster.b.url, path, cluster.headers, last_event_id=first[-1].id)
    received = first + rest
    assert received[-1].data == {"status": "succeeded"}
    indexes = [e.data["index"] for e in received if e.event == "delta"]
    assert indexes == list(range(len(indexes)))
    text = text_of(received)
    assert text == scripted_text(TOKENS), "the adopted answer repeats or skips text"

    stored = await _get(cluster.b, f"/api/generations/{generation_id}", cluster.headers)
    assert stored["status"] == "succeeded"
    # Every token counted once: those the dead process streamed after its last checkpoint too.
    assert stored["usage"]["completion_tokens"] == TOKENS
    assert received[-2].data["completion_tokens"] == TOKENS
    messages = (await _get(cluster.b, f"/api/chats/{stored['chat_id']}/messages", cluster.headers))[
        "items"
    ]
    assert messages[-1]["id"] == stored["assistant_message_id"]
    assert messages[-1]["content"] == text
    assert "adopted" in cluster.b.output()


async def test_a_cancel_while_the_runner_is_dead_is_honoured_by_its_adopter(
    cluster: Cluster,
) -> None:
    generation_id = _start(cluster)
    path = f"/api/generations/{generation_id}/stream"
    first = await _read(cluster.a.url, path, cluster.headers, stop_after=5)
    # Killed: the cancel's broadcast reaches no runner of this generation.
    stop(cluster.a.process, signal.SIGKILL)
    async with httpx.AsyncClient(base_url=cluster.b.url) as on_b:
        canceled = await on_b.post(
            f"/api/generations/{generation_id}/cancel", headers=cluster.headers
        )
    assert canceled.status_code == 200, canceled.text

    rest = await _read(cluster.b.url, path, cluster.headers, last_event_id=first[-1].id)
    assert rest[-1].data == {"status": "canceled"}
    assert len([e for e in first + rest if e.event == "delta"]) < TOKENS
    stored = await _get(cluster.b, f"/api/generations/{generation_id}", cluster.headers)
    assert stored["status"] == "canceled"


async def test_too_many_adoptions_fail_cleanly_with_the_partial_text(
    database_url: str, redis_prefix: str, inference: Service, tmp_path: Path
) -> None:
    env = {**_cluster_env(database_url, redis_prefix, inference), "MAX_ADOPTIONS": "0"}
    with _running(env, tmp_path) as cluster:
        generation_id = _start(cluster)
        path = f"/api/generations/{generation_id}/stream"
        first = await _read(cluster.a.url, path, cluster.headers, stop_after=10)
        stop(cluster.a.process, signal.SIGKILL)
        rest = await _read(cluster.b.url, path, cluster.headers, last_event_id=first[-1].id)
        received = first + rest
        assert [e.event for e in rest][-3:] == ["error", "usage", "done"]
        assert rest[-3].data["code"] == "too_many_adoptions"
        assert received[-1].data == {"status": "failed"}
        stored = await _get(cluster.b, f"/api/generations/{generation_id}", cluster.headers)
        assert stored["status"] == "failed"
        messages = await _get(
            cluster.b, f"/api/chats/{stored['chat_id']}/messages", cluster.headers
        )
        assert messages["items"][-1]["status"] == "incomplete"
        assert messages["items"][-1]["content"] == text_of(received)

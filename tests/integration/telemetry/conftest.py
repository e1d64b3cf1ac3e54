"""Real api, inference and worker processes exporting their spans to a receiver in this process.

The processes publish and consume events on a RabbitMQ vhost of their own, so the worker here
applies exactly the events these tests cause.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import RABBITMQ_URL, REDIS_URL, TEST_JWT_SECRET, rabbitmqctl
from tests.factories import DEFAULT_PASSWORD, unique_email
from tests.integration.events.conftest import Worker, run_worker
from tests.integration.generations.conftest import scripted_env
from tests.otlp import Receiver, otlp_receiver
from tests.processes import Service, free_port, serve

TOKENS = 60


@dataclass
class Traced:
    receiver: Receiver
    env: dict[str, str]
    inference: Service
    worker: Worker
    api: Service
    logs: Path
    worker_metrics_url: str

    def account(self, api: Service | None = None) -> dict[str, str]:
        registered = httpx.post(
            f"{(api or self.api).url}/api/auth/register",
            json={"email": unique_email(), "password": DEFAULT_PASSWORD},
        ).json()
        return {"Authorization": f"Bearer {registered['access_token']}"}


def start_generation(api: Service, headers: dict[str, str]) -> str:
    chat = httpx.post(f"{api.url}/api/chats", json={}, headers=headers).json()
    httpx.post(
        f"{api.url}/api/chats/{chat['id']}/messages", json={"content": "Hi"}, headers=headers
    )
    created = httpx.post(f"{api.url}/api/chats/{chat['id']}/generations", headers=headers)
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def traced_broker_url() -> Iterator[str]:
    vhost = f"minichat-test-traces-{uuid.uuid4().hex[:10]}"
    created = rabbitmqctl("add_vhost", vhost)
    if created.returncode != 0:
        pytest.fail(f"cannot create RabbitMQ vhost {vhost}: {created.stderr or created.stdout}")
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"{RABBITMQ_URL}/{vhost}"
    rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
    redis_prefix: str,
    traced_broker_url: str,
) -> Iterator[Traced]:
    logs = tmp_path_factory.mktemp("traced")
    with otlp_receiver() as receiver:
        otel = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "LOG_FORMAT": "json",
        }
        env = {
            **otel,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": redis_prefix,
            "BROKER_URL": traced_broker_url,
            "JWT_SECRET": TEST_JWT_SECRET,
            "RUNNER_HEARTBEAT_TTL_MS": "1500",
            "REAPER_INTERVAL_MS": "200",
            "RELAY_POLL_INTERVAL_MS": "50",
            "CHECKPOINT_EVERY_TOKENS": "8",
        }
        worker_port = free_port()
        worker_env = {**env, "WORKER_CONCURRENCY": "2", "WORKER_METRICS_PORT": str(worker_port)}
        with (
            serve(["inference"], {**otel, **scripted_env(TOKENS, 20)}, logs) as inference,
            run_worker(worker_env, logs) as worker,
            serve(["api"], {**env, "INFERENCE_URL": inference.url}, logs) as api,
        ):
            env["INFERENCE_URL"] = inference.url
            metrics_url = f"http://127.0.0.1:{worker_port}/metrics"
            yield Traced(receiver, env, inference, worker, api, logs, metrics_url)

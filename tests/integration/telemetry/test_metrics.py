"""The metrics an operator runs on: they exist on each live /metrics and move as generations
succeed, are canceled and fail; the latency histograms name traces; labels stay bounded."""

from __future__ import annotations

import time
import uuid

import httpx
from prometheus_client import REGISTRY

from tests.factories import register
from tests.integration.telemetry.conftest import TOKENS, Traced, start_generation
from tests.integration.telemetry.test_traces import _read, _trace
from tests.metrics import scrape, value
from tests.processes import serve

ROUTE = "/api/chats/{chat_id}/generations"


def _cancel_midway(traced: Traced, headers: dict[str, str]) -> str:
    generation_id = start_generation(traced.api, headers)
    with httpx.Client(base_url=traced.api.url, timeout=60) as client:
        path = f"/api/generations/{generation_id}"
        with client.stream("GET", path + "/stream", headers=headers) as feed:
            for line in feed.iter_lines():
                if line.startswith("event: delta"):
                    break
        assert client.post(path + "/cancel", headers=headers).json()["status"] == "canceled"
    return generation_id


def _until(url: str, name: str, at_least: float, **labels: str) -> None:
    deadline = time.monotonic() + 60
    while value(scrape(url), name, **labels) < at_least and time.monotonic() < deadline:
        time.sleep(0.2)


async def test_metrics_move_after_a_generation_a_cancel_and_a_failure(traced: Traced) -> None:
    api, inference = f"{traced.api.url}/metrics", f"{traced.inference.url}/metrics"
    before = {"api": scrape(api), "inference": scrape(inference)}
    worker_before = scrape(traced.worker_metrics_url)
    headers = traced.account()
    succeeded = start_generation(traced.api, headers)
    assert (await _read(traced.api, succeeded, headers))[-1].data == {"status": "succeeded"}
    canceled = _cancel_midway(traced, headers)

    after = scrape(api)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before["api"], name, **labels)

    assert moved("minichat_generations_started_total") == 2
    assert moved("minichat_generations_total", status="succeeded") == 1
    assert moved("minichat_generations_total", status="canceled") == 1
    assert moved("minichat_time_to_first_token_seconds_count") == 2
    assert moved("minichat_generation_duration_seconds_count") == 2
    assert moved("minichat_runner_queue_wait_seconds_count") == 2
    assert moved("minichat_tokens_streamed_total") >= TOKENS + 1
    assert moved("minichat_http_request_duration_seconds_count", route=ROUTE, status="202") == 2
    assert value(after, "minichat_sse_streams_active") == 0
    assert value(after, "minichat_generations_running") == 0
    assert value(after, "minichat_runner_queue_depth") == 0
    assert value(after, "minichat_outbox_backlog") >= 0

    served = scrape(inference)
    for outcome in ("stop", "cancelled"):
        moved_by = value(served, "minichat_inference_generations_total", outcome=outcome) - value(
            before["inference"], "minichat_inference_generations_total", outcome=outcome
        )
        assert moved_by == 1, outcome
    assert value(served, "minichat_inference_queue_depth") == 0
    assert value(served, "minichat_inference_rejected_requests_total") == 0

    # Two usage events (and the audit events of registering and canceling) reach the worker.
    applied = value(worker_before, "minichat_worker_events_processed_total", outcome="applied")
    _until(traced.worker_metrics_url, "minichat_worker_events_processed_total", applied + 2)
    worker = scrape(traced.worker_metrics_url)
    assert value(worker, "minichat_worker_events_processed_total", event_type="usage_event") >= 2
    assert value(worker, "minichat_worker_events_dead_lettered_total") == 0
    assert value(worker, "minichat_worker_events_retried_total") == 0

    # The TTFT histogram names the traces of these generations (a bucket keeps its latest).
    traces = {
        _trace(traced.receiver, generation_id, "generation.create")[0].trace_id
        for generation_id in (succeeded, canceled)
    }
    exemplars = {
        s.exemplar.labels["trace_id"]
        for s in after
        if s.name == "minichat_time_to_first_token_seconds_bucket" and s.exemplar
    }
    assert traces & exemplars


async def test_a_failed_generation_is_counted_failed(traced: Traced) -> None:
    env = {**traced.env, "INFERENCE_URL": "http://127.0.0.1:1"}
    with serve(["api"], env, traced.logs) as unreachable:
        headers = traced.account(unreachable)
        generation_id = start_generation(unreachable, headers)
        assert (await _read(unreachable, generation_id, headers))[-1].data == {"status": "failed"}
        samples = scrape(f"{unreachable.url}/metrics")
    assert value(samples, "minichat_generations_total", status="failed") == 1
    assert value(samples, "minichat_generations_total", status="succeeded") == 0
    assert value(samples, "minichat_generation_duration_seconds_count") == 1


def _label_sets(name: str) -> set[tuple[tuple[str, str], ...]]:
    return {
        tuple(sorted(sample.labels.items()))
        for family in REGISTRY.collect()
        if family.name == name
        for sample in family.samples
    }


async def test_labels_stay_bounded_after_a_thousand_distinct_chat_ids(
    client: httpx.AsyncClient,
) -> None:
    account = await register(client)
    name = "minichat_http_request_duration_seconds"
    before = _label_sets(name)
    for _ in range(1000):
        missing = await client.get(f"/api/chats/{uuid.uuid4()}/messages", headers=account.headers)
        assert missing.status_code == 404
    for _ in range(100):
        await client.get(f"/api/no-such-thing/{uuid.uuid4()}")
    added = _label_sets(name) - before
    routes = {dict(labels).get("route") for labels in added}
    assert routes <= {"/api/chats/{chat_id}/messages", "unmatched"}
    # Each new series is one bucket (or sum, count) of at most two new label sets.
    assert len({tuple(kv for kv in labels if kv[0] != "le") for labels in added}) <= 2
    assert not any(len(v) == 36 and v.count("-") == 4 for labels in added for _, v in labels), (
        "an id became a label value"
    )

"""One generation is one trace: from the api's POST through the inference plane, the outbox
relay and the broker to the worker's aggregate, also when another api process adopted it."""

from __future__ import annotations

import json
import signal
from typing import Any

import httpx

from tests.integration.telemetry.conftest import TOKENS, Traced, start_generation
from tests.otlp import Receiver, Span
from tests.processes import Service, serve, stop
from tests.sse import Event, collect, events

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
STATUS_ERROR = 2
CREATE_ROUTE = "POST /api/chats/{chat_id}/generations"


async def _read(
    api: Service, generation_id: str, headers: dict[str, str], **kw: Any
) -> list[Event]:
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        path = f"/api/generations/{generation_id}/stream"
        return await collect(client, path, headers, **kw)


# Each process exports on its own schedule: the worker's span can arrive before the api's last.
EVERY_SPAN = (
    CREATE_ROUTE,
    "generation.create",
    "generation.run",
    "generation.inference",
    "generation.finish",
    "outbox.publish usage_event",
    "worker.apply usage_event",
)


def _trace(receiver: Receiver, generation_id: str, *until: str, runs: int = 1) -> list[Span]:
    """The spans of the generation's trace, once every span named in `until` has arrived (and
    `runs` generation.run spans)."""

    def complete(spans: list[Span]) -> list[Span]:
        created = [
            s
            for s in spans
            if s.name == "generation.create"
            and s.attributes.get("minichat.generation.id") == generation_id
        ]
        if not created:
            return []
        trace = [s for s in spans if s.trace_id == created[0].trace_id]
        names = [s.name for s in trace]
        complete = all(name in names for name in until) and names.count("generation.run") >= runs
        return trace if complete else []

    trace = receiver.wait_for(complete)
    assert trace, f"no complete trace of {generation_id}: {receiver.spans}"
    return trace


def _one(spans: list[Span], name: str, **attributes: Any) -> Span:
    found = [
        s
        for s in spans
        if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, f"{len(found)} spans {name} {attributes} in {spans}"
    return found[0]


def _runs(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.name == "generation.run"]


async def test_one_generation_is_one_trace_from_the_post_to_the_worker(traced: Traced) -> None:
    headers = traced.account()
    generation_id = start_generation(traced.api, headers)
    received = await _read(traced.api, generation_id, headers)
    assert received[-1].data == {"status": "succeeded"}

    inference_spans = ("POST /v1/chat/completions", "inference.generate")
    spans = _trace(traced.receiver, generation_id, *EVERY_SPAN, *inference_spans)
    assert {s.service for s in spans} == {"minichat-api", "minichat-inference", "minichat-worker"}
    post = _one(spans, CREATE_ROUTE)
    assert (post.kind, post.parent_span_id, post.service) == (SERVER, "", "minichat-api")
    create = _one(spans, "generation.create")
    run = _one(spans, "generation.run")
    call = _one(spans, "generation.inference")
    served = _one(spans, "POST /v1/chat/completions")
    generate = _one(spans, "inference.generate")
    finish = _one(spans, "generation.finish")
    publish = _one(spans, "outbox.publish usage_event")
    applied = _one(spans, "worker.apply usage_event")
    assert create.parent_span_id == post.span_id
    assert run.parent_span_id == create.span_id
    assert (call.parent_span_id, call.kind) == (run.span_id, CLIENT)
    assert (served.parent_span_id, served.kind, served.service) == (
        call.span_id,
        SERVER,
        "minichat-inference",
    )
    assert generate.parent_span_id == served.span_id
    assert finish.parent_span_id == run.span_id
    assert (publish.parent_span_id, publish.kind) == (finish.span_id, PRODUCER)
    assert (applied.parent_span_id, applied.kind, applied.service) == (
        publish.span_id,
        CONSUMER,
        "minichat-worker",
    )
    assert run.attributes["minichat.generation.state"] == "succeeded"
    assert run.attributes["minichat.generation.completion_tokens"] == TOKENS
    assert "first_token" in run.events and "first_token" in generate.events
    assert generate.attributes["gen_ai.usage.output_tokens"] == TOKENS
    assert applied.attributes["minichat.worker.outcome"] == "applied"
    assert applied.attributes["minichat.generation.state"] == "succeeded"
    # Its checkpoints: events on the run, and rounds (many generations each) linked to it.
    assert "checkpoint" in run.events
    rounds = traced.receiver.wait_for(
        lambda spans: [
            s
            for s in spans
            if s.name == "generation.checkpoint"
            and any(link.span_id == run.span_id for link in s.links)
        ]
    )
    assert rounds and all(s.service == "minichat-api" for s in rounds)


async def test_an_adopted_generation_continues_its_trace_linked_to_the_runner_before(
    traced: Traced,
) -> None:
    env = {**traced.env, "INFERENCE_URL": traced.inference.url}
    with serve(["api"], env, traced.logs) as leaving:
        headers = traced.account(leaving)
        generation_id = start_generation(leaving, headers)
        first = await _read(leaving, generation_id, headers, stop_after=5)
        # A graceful stop relinquishes the answer (and exports the spans) for a peer to adopt.
        stop(leaving.process, signal.SIGTERM)
    rest = await _read(traced.api, generation_id, headers, last_event_id=first[-1].id)
    assert rest[-1].data == {"status": "succeeded"}

    spans = _trace(traced.receiver, generation_id, *EVERY_SPAN, runs=2)
    before = _one(spans, "generation.run", **{"minichat.generation.state": "relinquished"})
    after = _one(spans, "generation.run", **{"minichat.generation.state": "succeeded"})
    assert len(_runs(spans)) == 2
    assert before.attributes["minichat.runner.id"] != after.attributes["minichat.runner.id"]
    assert after.attributes["minichat.runner.previous"] == before.attributes["minichat.runner.id"]
    assert after.attributes["minichat.generation.adoptions"] == 1
    assert after.parent_span_id == before.span_id
    assert [(link.trace_id, link.span_id) for link in after.links] == [
        (before.trace_id, before.span_id)
    ]
    finish = _one(spans, "generation.finish")
    assert finish.parent_span_id == after.span_id
    assert _one(spans, "worker.apply usage_event").service == "minichat-worker"


async def test_a_canceled_generation_carries_its_final_state(traced: Traced) -> None:
    headers = traced.account()
    generation_id = start_generation(traced.api, headers)
    async with (
        httpx.AsyncClient(base_url=traced.api.url, timeout=60) as client,
        client.stream("GET", f"/api/generations/{generation_id}/stream", headers=headers) as feed,
    ):
        async for event in events(feed):
            if event.event == "delta" and event.data["index"] == 2:
                canceled = await client.post(
                    f"/api/generations/{generation_id}/cancel", headers=headers
                )
                assert canceled.json()["status"] == "canceled"
    spans = _trace(traced.receiver, generation_id, *EVERY_SPAN)
    run = _one(spans, "generation.run")
    assert run.attributes["minichat.generation.state"] == "canceled"
    assert 0 < run.attributes["minichat.generation.completion_tokens"] < TOKENS
    assert _one(spans, "generation.finish").attributes["minichat.generation.state"] == "canceled"
    applied = _one(spans, "worker.apply usage_event")
    assert applied.attributes["minichat.generation.state"] == "canceled"


async def test_a_failed_generation_carries_its_state_and_error_and_logs_name_it(
    traced: Traced,
) -> None:
    env = {**traced.env, "INFERENCE_URL": "http://127.0.0.1:1"}
    with serve(["api"], env, traced.logs) as unreachable:
        headers = traced.account(unreachable)
        generation_id = start_generation(unreachable, headers)
        received = await _read(unreachable, generation_id, headers)
        assert received[-1].data == {"status": "failed"}
        spans = _trace(traced.receiver, generation_id, *EVERY_SPAN)
        log = unreachable.output()
    run = _one(spans, "generation.run")
    assert run.attributes["minichat.generation.state"] == "failed"
    assert run.attributes["minichat.generation.error_code"] == "inference_unreachable"
    assert run.status_code == STATUS_ERROR
    assert _one(spans, "generation.inference").status_code == STATUS_ERROR
    assert _one(spans, "worker.apply usage_event").attributes["minichat.generation.state"] == (
        "failed"
    )
    # The runner's warning is a JSON line naming the generation, its trace and its span.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    warned = [
        line
        for line in lines
        if line.get("generation_id") == generation_id and line["level"] == "WARNING"
    ]
    assert warned, log
    assert warned[0]["service"] == "minichat-api"
    assert warned[0]["trace_id"] == run.trace_id
    assert warned[0]["span_id"] in {s.span_id for s in spans if s.service == "minichat-api"}

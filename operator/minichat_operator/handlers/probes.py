"""The operator's own /healthz and /metrics, on one port (the chart's `operator.metrics.port`)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

RECONCILES = Counter(
    "minichat_operator_reconciles_total",
    "MiniChat reconciles, by result (ready, waiting, failed, error).",
    ["result"],
)
RECONCILE_SECONDS = Histogram(
    "minichat_operator_reconcile_duration_seconds",
    "How long one reconcile of a MiniChat took.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


@asynccontextmanager
async def timed() -> AsyncIterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        RECONCILE_SECONDS.observe(time.perf_counter() - started)


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(_: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


async def start(memo: kopf.Memo) -> None:
    app = web.Application()
    app.add_routes([web.get("/healthz", _healthz), web.get("/metrics", _metrics)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", memo["probe_port"]).start()
    memo["probe_runner"] = runner


async def stop(memo: kopf.Memo) -> None:
    runner = memo.get("probe_runner")
    if runner is not None:
        await runner.cleanup()

"""ASGI middleware of the inference plane: request latency by route and status."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minichat import tracing
from minichat_inference.metrics import Metrics

# Labels stay bounded: any other path (scanners, typos) is counted as "other".
ROUTES = {"/v1/chat/completions", "/v1/models", "/healthz", "/readyz", "/metrics"}


class RequestMetrics:
    """Observes each HTTP request from its start to its last byte (the end of a stream)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = scope["path"] if scope["path"] in ROUTES else "other"
        status = 500

        async def measured_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, measured_send)
        finally:
            self.metrics.request_duration.labels(route, str(status)).observe(
                time.perf_counter() - started, tracing.exemplar()
            )

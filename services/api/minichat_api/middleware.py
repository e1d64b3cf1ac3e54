"""ASGI middleware of the api: request body and header size limits, request latency metrics."""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minichat import tracing
from minichat_api.docs import DOCS_ASSETS, OPENAPI_URL
from minichat_api.errors import error_response
from minichat_api.metrics import REQUEST_LATENCY


class BodySizeLimit:
    """Answers 413 to bodies over `max_bytes`: declared by Content-Length, or counted as read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "payload_too_large", self._message())
        await response(scope, receive, send)


class HeaderSizeLimit:
    """Answers 431 to requests whose header lines add up to more than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                response = error_response(
                    431,
                    "request_header_fields_too_large",
                    f"the request's headers add up to more than {self.max_bytes} bytes",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Paths no route template describes (files and pages), each with one label, so the set of
# labels stays bounded however many different paths are asked for.
_FILE_LABELS = (
    (DOCS_ASSETS + "/", DOCS_ASSETS + "/{file}"),
    ("/api/", "unmatched"),
    ("/assets/", "/assets/{file}"),
)


def route_label(scope: Scope) -> str:
    """The matched route's template; for the docs' and the web UI's files, the OpenAPI document
    and the web UI's pages (SPA paths such as /chat/<id>) a fixed label."""
    route = getattr(scope.get("route"), "path", None)
    if route:
        return str(route)
    path: str = scope["path"]
    if path == OPENAPI_URL:
        return path
    for prefix, label in _FILE_LABELS:
        if path.startswith(prefix):
            return label
    return "/{page}"


class RequestMetrics:
    """Observes the time to the start of each response, labelled by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                REQUEST_LATENCY.labels(
                    method=scope["method"],
                    route=route_label(scope),
                    status=str(message["status"]),
                ).observe(time.perf_counter() - started, tracing.exemplar())
            await send(message)

        await self.app(scope, receive, timed_send)

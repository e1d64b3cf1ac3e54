"""The api's app factory: `create_app(settings)` wires routers, middleware and error handlers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from minichat import __version__
from minichat.tracing import untraced_request
from minichat_api.docs import OPENAPI_URL, mount_docs
from minichat_api.errors import install_error_handlers
from minichat_api.middleware import BodySizeLimit, HeaderSizeLimit, RequestMetrics
from minichat_api.outbox.local import Deliver
from minichat_api.routes import auth, chats, generations, health, usage
from minichat_api.schemas.common import ErrorBody
from minichat_api.settings import ApiSettings
from minichat_api.state import AppState, ReadinessCheck
from minichat_api.webui import mount_web_ui


def create_app(
    settings: ApiSettings | None = None,
    event_sink: Deliver | None = None,
    readiness: Mapping[str, ReadinessCheck] | None = None,
) -> FastAPI:
    """`event_sink`: the in-process event consumer of the all-in-one mode (`minichat up`);
    `readiness`: its supervised children, which /readyz then also checks."""
    settings = settings or ApiSettings.load()
    # Built now, not in the lifespan, so a misconfigured process fails before it listens.
    state = AppState.build(settings, event_sink, readiness)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        # What startup built lives as long as the process: out of the collector's sight, a
        # full collection no longer walks it (they paused streams for 50-90 ms at load).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # for an app built more than once in a process (tests)
            await state.close()

    app = FastAPI(
        telemetry=TelemetryConfig(
            tracing=True, metrics=False, logs=False, operation_spans=False, exclude=untraced_request
        ),
        title="MiniChat API",
        version=__version__,
        openapi_url=OPENAPI_URL,
        # Served by mount_docs from a package instead of a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # What any route can answer, before its own code runs.
        responses={
            400: {
                "model": ErrorBody,
                "description": "the body is not JSON, or a cursor or "
                "event id is not one this api gave out",
            },
            413: {"model": ErrorBody, "description": "the body is larger than MAX_REQUEST_BYTES"},
            431: {"model": ErrorBody, "description": "the headers exceed MAX_HEADER_BYTES"},
        },
    )
    app.state.minichat = state
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(HeaderSizeLimit, max_bytes=settings.max_header_bytes)
    app.add_middleware(RequestMetrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[o.strip() for o in settings.web_origin.split(",") if o.strip()],
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "Idempotency-Key"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    for router in (health.router, auth.router, chats.router, generations.router, usage.router):
        app.include_router(router)
    mount_docs(app)
    mount_web_ui(app, settings)
    return app

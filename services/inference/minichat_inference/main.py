"""The inference plane's app factory: `create_app(settings)` builds the backend and the routes;
the lifespan loads the model (once per process) and releases it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from minichat import __version__
from minichat.tracing import untraced_request
from minichat_inference import routes
from minichat_inference.backends import Backend
from minichat_inference.errors import install_error_handlers
from minichat_inference.middleware import RequestMetrics
from minichat_inference.settings import InferenceSettings
from minichat_inference.state import InferenceState

logger = logging.getLogger(__name__)


def create_app(
    settings: InferenceSettings | None = None, backend: Backend | None = None
) -> FastAPI:
    """The app; `backend` lets tests and benchmarks share one already-built backend."""
    settings = settings or InferenceSettings.load()
    # Built now, not in the lifespan, so a misconfigured process fails before it listens.
    state = InferenceState.build(settings, backend)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not state.backend.ready:
            await state.backend.start()
        logger.info(
            "inference ready: backend=%s model=%s concurrency=%d queue=%d",
            state.backend.name,
            state.backend.model_id,
            state.admission.max_concurrency,
            state.admission.max_queue,
        )
        yield
        if backend is None:
            await state.backend.close()

    app = FastAPI(
        telemetry=TelemetryConfig(
            tracing=True, metrics=False, logs=False, operation_spans=False, exclude=untraced_request
        ),
        title="MiniChat inference",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.inference = state
    install_error_handlers(app)
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    app.include_router(routes.router)
    return app

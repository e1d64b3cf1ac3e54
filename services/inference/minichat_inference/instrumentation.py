"""The inference plane's request spans (the FastAPI instrumentation), when tracing is on."""

from __future__ import annotations

from fastapi import FastAPI

from minichat import tracing

# Probes and scrapes would be most of the spans and say nothing.
UNTRACED_PATHS = "/healthz,/readyz,/metrics"


def instrument(app: FastAPI) -> None:
    """A server span per request, continuing the caller's `traceparent`; none per ASGI message
    (an SSE stream sends one per event)."""
    if not tracing.enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=UNTRACED_PATHS, exclude_spans=["receive", "send"]
    )

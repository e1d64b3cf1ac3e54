"""The api's request spans: FastAPI's own telemetry, trimmed to them."""

from __future__ import annotations

from typing import Any

from fastapi.telemetry import TelemetryConfig

# Probes and scrapes would be most of the spans and say nothing.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _untraced(scope: Any) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def request_spans() -> TelemetryConfig:
    """FastAPI's own telemetry, on when a tracer provider is installed: a span per request
    continuing the caller's `traceparent`; no metrics (ours are Prometheus), no log records, no
    span per dependency, endpoint or serialization. So trimmed, tracing costs the api about 1 ms
    of CPU per generation; with all of it (or OpenTelemetry's FastAPI instrumentation instead),
    2.5 ms and 2 ms more to the first token (bench/stream.py --tracing cost)."""
    return {
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "exclude": _untraced,
    }

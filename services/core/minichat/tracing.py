"""OpenTelemetry traces, configured only by the standard `OTEL_*` variables.

With OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, spans go to it
over OTLP/HTTP, batched; the SDK reads the rest (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
OTEL_TRACES_SAMPLER, OTEL_BSP_*, headers, timeouts). Without it no SDK is loaded: the API's
tracer is a no-op, and `enabled()` lets hot paths skip even building their spans.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

logger = logging.getLogger(__name__)

_state = {"enabled": False}
_W3C = TraceContextTextMapPropagator()


def exporting(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the `OTEL_*` variables ask for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if "otlp" not in {name.strip() for name in exporters.split(",")}:
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def configure_tracing(default_service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install the SDK with an OTLP/HTTP exporter if the environment asks for it; True if so.
    `default_service_name` applies when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES
    names the service. Spans still queued are flushed when the process exits."""
    if not exporting(environ):
        return False
    # Imported here: a process that exports nothing never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    protocol = environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol.strip() not in ("", "http/protobuf"):
        logger.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s: only http/protobuf is supported", protocol)
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _state["enabled"] = True
    logger.info("tracing: exporting spans as %s", resource.attributes.get(SERVICE_NAME))
    return True


def shutdown() -> None:
    """Export the spans still queued, then record no more."""
    provider = trace.get_tracer_provider()
    stop = getattr(provider, "shutdown", None)
    if stop is not None:
        stop()


def exemplar() -> dict[str, str] | None:
    """The current trace for a Prometheus exemplar: a latency sample names a trace to open."""
    if not _state["enabled"]:
        return None
    context = trace.get_current_span().get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def enabled() -> bool:
    """Whether spans are recorded in this process."""
    return _state["enabled"]


def tracer(name: str) -> Tracer:
    return trace.get_tracer(name)


def traceparent(span: Span | None = None) -> str | None:
    """The W3C `traceparent` of `span` (default: the current one); None when there is none."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def context_from(value: str | None) -> Context | None:
    """A parent context for a new span from a `traceparent`; None if there is none (or it is
    malformed), which makes the new span a root."""
    if not value:
        return None
    context = _W3C.extract({"traceparent": value})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def link_to(value: str | None, **attributes: str | int) -> list[Link]:
    """A span link to the span a `traceparent` names (none if it names none)."""
    context = context_from(value)
    if context is None:
        return []
    target: SpanContext = trace.get_current_span(context).get_span_context()
    return [Link(target, attributes)]


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the current trace context to outgoing headers (OTEL_PROPAGATORS; W3C by default)."""
    propagate.inject(headers)


# Probes and scrapes would be most of the request spans and say nothing.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def untraced_request(scope: Mapping[str, object]) -> bool:
    """FastAPI's `telemetry={"exclude": ...}` for both web services. They keep of FastAPI's own
    telemetry only a span per request (continuing the caller's `traceparent`): no metrics (ours
    are Prometheus), no log records, no span per dependency, endpoint or serialization. So
    trimmed, tracing costs the api about 1 ms of CPU per generation; with all of it (or
    OpenTelemetry's FastAPI instrumentation instead), 2.5 ms and 2 ms more to the first token
    (bench/stream.py --tracing cost)."""
    return scope.get("path") in UNTRACED_PATHS

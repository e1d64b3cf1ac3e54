"""Process-wide logging: one line per record on stderr, at LOG_LEVEL; with LOG_FORMAT=json, one
JSON object per line carrying the service, the trace and span ids and the generation id."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Literal

from opentelemetry import trace

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]

# The generation the running task works on; set by whoever runs one (the api's runner).
generation_id: ContextVar[str | None] = ContextVar("minichat_generation_id", default=None)


class TraceFields(logging.Filter):
    """Adds `service`, `trace_id`, `span_id` and `generation_id` to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.service = self.service
        record.trace_id = f"{context.trace_id:032x}" if context.is_valid else None
        record.span_id = f"{context.span_id:016x}" if context.is_valid else None
        record.generation_id = generation_id.get()
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s %(generation_id)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def configure_logging(
    level: str, log_format: LogFormat = "text", service: str = "minichat"
) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT, force=True)
    if log_format == "json":
        handler = logging.getLogger().handlers[0]
        handler.setFormatter(json_formatter())
        handler.addFilter(TraceFields(service))
    # Per-request access lines come from uvicorn; the libraries below are chatty at INFO.
    for noisy in ("sqlalchemy.engine",):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))

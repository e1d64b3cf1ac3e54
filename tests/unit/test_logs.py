"""LOG_FORMAT=json: one JSON object per line with the service, trace, span and generation ids."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from minichat import logs


@pytest.fixture
def json_records() -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(logs.json_formatter())
    handler.addFilter(logs.TraceFields("minichat-api"))
    return handler


def _line(handler: logging.Handler, message: str, *args: object) -> dict[str, object]:
    record = logging.LogRecord("minichat_api.x", logging.WARNING, __file__, 1, message, args, None)
    assert handler.filter(record)
    parsed: dict[str, object] = json.loads(handler.format(record))
    return parsed


def test_a_line_outside_any_span_or_generation(json_records: logging.Handler) -> None:
    line = _line(json_records, "hello %s", "world")
    assert line["message"] == "hello world"
    assert (line["level"], line["logger"], line["service"]) == (
        "WARNING",
        "minichat_api.x",
        "minichat-api",
    )
    assert line["trace_id"] is line["span_id"] is line["generation_id"] is None
    assert "time" in line


def test_a_line_inside_a_span_of_a_generation(json_records: logging.Handler) -> None:
    tracer = TracerProvider().get_tracer("test")
    token = logs.generation_id.set("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    try:
        with tracer.start_as_current_span("work") as span:
            line = _line(json_records, "inside")
    finally:
        logs.generation_id.reset(token)
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert line["generation_id"] == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"

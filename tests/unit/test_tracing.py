"""Which `OTEL_*` environments export traces, and the trace context helpers."""

from __future__ import annotations

import pytest

from minichat import tracing

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    ("environ", "exported"),
    [
        ({}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "console,otlp"}, True),
    ],
)
def test_only_an_otlp_endpoint_turns_exporting_on(environ: dict[str, str], exported: bool) -> None:
    assert tracing.exporting(environ) is exported


def test_without_an_endpoint_nothing_is_installed() -> None:
    assert tracing.configure_tracing("minichat-test", {}) is False
    assert not tracing.enabled()
    assert tracing.traceparent() is None


def test_a_traceparent_becomes_a_parent_and_a_link() -> None:
    context = tracing.context_from(TRACEPARENT)
    assert context is not None
    [link] = tracing.link_to(TRACEPARENT, why="adopted_from")
    assert f"{link.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{link.context.span_id:016x}" == "b7ad6b7169203331"
    assert link.attributes == {"why": "adopted_from"}


@pytest.mark.parametrize("value", [None, "", "garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"])
def test_no_or_a_malformed_traceparent_gives_a_root(value: str | None) -> None:
    assert tracing.context_from(value) is None
    assert tracing.link_to(value) == []

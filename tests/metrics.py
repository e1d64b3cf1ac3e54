"""Reading a live /metrics endpoint in tests: samples by name and labels."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def scrape(url: str) -> list[Sample]:
    """Every sample `url` serves, in OpenMetrics (so with exemplars)."""
    response = httpx.get(url, headers={"Accept": OPENMETRICS}, timeout=10)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    return [
        sample
        for family in text_string_to_metric_families(response.text)  # type: ignore[no-untyped-call]
        for sample in family.samples
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 if none)."""
    return sum(s.value for s in samples if s.name == name and _has(s.labels, labels))


def names(samples: list[Sample]) -> set[str]:
    return {s.name for s in samples}


def _has(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(key) == expected for key, expected in wanted.items())

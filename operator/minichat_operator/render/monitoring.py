"""Prometheus Operator ServiceMonitors for the api, inference and worker metrics, when asked."""

from __future__ import annotations

from typing import Any

from minichat_operator.render.instance import Instance

SCRAPED = (("api", "http"), ("inference", "http"), ("worker", "metrics"))


def render(instance: Instance) -> list[dict[str, Any]]:
    if not instance.spec.observability.service_monitor:
        return []
    return [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": instance.metadata(component),
            "spec": {
                "selector": {"matchLabels": instance.selector(component)},
                "endpoints": [{"port": port, "path": "/metrics", "interval": "30s"}],
            },
        }
        for component, port in SCRAPED
    ]

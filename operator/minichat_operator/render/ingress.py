"""The Ingress, when enabled: the web UI at / and the api at /api (so the UI's same-origin /api
calls, SSE included, go straight to the api)."""

from __future__ import annotations

from typing import Any

from minichat_operator.render.api import PORT as API_PORT
from minichat_operator.render.instance import Instance
from minichat_operator.render.web import PORT as WEB_PORT

# ingress-nginx buffers responses by default, which holds SSE deltas back; other controllers
# ignore these.
SSE_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/proxy-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
}


def _path(path: str, service: str, port: int) -> dict[str, Any]:
    return {
        "path": path,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": port}}},
    }


def render(instance: Instance) -> list[dict[str, Any]]:
    ingress = instance.spec.ingress
    if not ingress.enabled:
        return []
    rule: dict[str, Any] = {}
    if ingress.host:
        rule["host"] = ingress.host
    rule["http"] = {
        "paths": [
            _path("/api", instance.child("api"), API_PORT),
            _path("/", instance.child("web"), WEB_PORT),
        ]
    }
    spec: dict[str, Any] = {}
    if ingress.class_name:
        spec["ingressClassName"] = ingress.class_name
    if ingress.tls_secret_name:
        tls: dict[str, Any] = {"secretName": ingress.tls_secret_name}
        if ingress.host:
            tls["hosts"] = [ingress.host]
        spec["tls"] = [tls]
    spec["rules"] = [rule]
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": instance.metadata("web", annotations=SSE_ANNOTATIONS),
            "spec": spec,
        }
    ]

"""The browser UI: static files behind nginx (the Dockerfile's web target), which proxies /api
to the api Service."""

from __future__ import annotations

from typing import Any

from minichat_operator.render.api import PORT as API_PORT
from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import (
    container,
    deployment,
    http_probe,
    mount,
    pod_template,
    scratch,
    service,
    value,
)

PORT = 8080
# The uid of nginx in the nginx-unprivileged base image.
NGINX_UID = 101


def render(instance: Instance) -> list[dict[str, Any]]:
    web = instance.spec.web
    # The SPA's fallback answers every path with index.html, so /readyz and /healthz show that
    # nginx serves the UI.
    main = container(
        "web",
        instance.web_image(),
        pull_policy=instance.spec.image.pull_policy,
        env=[value("API_UPSTREAM", instance.service_url("api", API_PORT))],
        ports=[("http", PORT)],
        spec=web.resources,
        probes={
            "readinessProbe": http_probe("/readyz", "http", period=5),
            "livenessProbe": http_probe("/healthz", "http", period=10, failures=6),
        },
        # nginx keeps its pid and buffers in /tmp; the image's entrypoint writes the config
        # from its template into conf.d at start.
        mounts=[mount("tmp", "/tmp"), mount("conf", "/etc/nginx/conf.d")],
    )
    template = pod_template(
        instance, "web", [main], uid=NGINX_UID, volumes=[scratch("tmp"), scratch("conf", "1Mi")]
    )
    return [
        service(instance, "web", [("http", PORT)]),
        deployment(instance, "web", web.replicas, template),
    ]

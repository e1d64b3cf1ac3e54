"""The event worker (`minichat worker`, Celery): turns usage and audit events into aggregates."""

from __future__ import annotations

from typing import Any

from minichat_operator.render import secrets
from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import (
    common_env,
    container,
    deployment,
    from_secret,
    http_probe,
    mount,
    pod_template,
    scratch,
    service,
    value,
)

METRICS_PORT = 9090


def render(instance: Instance) -> list[dict[str, Any]]:
    """The metrics Service always; the Deployment once a tag's migrations are applied."""
    out = [service(instance, "worker", [("metrics", METRICS_PORT)])]
    tag = instance.serving_tag
    if tag is None:
        return out
    worker = instance.spec.worker
    env = [
        *common_env(instance, "worker"),
        from_secret("DATABASE_URL", secrets.database_url(instance)),
        from_secret("BROKER_URL", secrets.broker_url(instance)),
        value("WORKER_METRICS_PORT", str(METRICS_PORT)),
    ]
    # The worker serves no health endpoint of its own; its metrics server (any path answers)
    # shows the process is alive. Celery's own ping would start a second Python per probe.
    main = container(
        "worker",
        instance.image(tag),
        pull_policy=instance.spec.image.pull_policy,
        args=["worker"],
        env=env,
        ports=[("metrics", METRICS_PORT)],
        spec=worker.resources,
        probes={
            "readinessProbe": http_probe("/metrics", "metrics", period=10),
            "livenessProbe": http_probe("/metrics", "metrics", period=20, failures=6),
        },
        mounts=[mount("tmp", "/tmp")],
    )
    template = pod_template(instance, "worker", [main], volumes=[scratch("tmp")], grace_seconds=60)
    out.append(deployment(instance, "worker", worker.replicas, template))
    return out

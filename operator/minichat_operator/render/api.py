"""The api (`minichat api`, with the outbox relay inside it): Deployment, Service, and the
PodDisruptionBudget and HorizontalPodAutoscaler that keep and scale it."""

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

PORT = 8000
INFERENCE_PORT = 8001
# The Pods metric the autoscaler reads (served by each api on /metrics, through an adapter).
STREAMS_METRIC = "minichat_active_streams"


def url(instance: Instance) -> str:
    """The api's address inside the cluster (status.url)."""
    return f"http://{instance.child('api')}.{instance.namespace}.svc:{PORT}"


def web_origin(instance: Instance) -> str | None:
    ingress = instance.spec.ingress
    if not (ingress.enabled and ingress.host):
        return None  # the UI reaches the api through its own proxy: same origin, no CORS
    scheme = "https" if ingress.tls_secret_name else "http"
    return f"{scheme}://{ingress.host}"


def _env(instance: Instance) -> list[dict[str, Any]]:
    env = [
        *common_env(instance, "api"),
        from_secret("DATABASE_URL", secrets.database_url(instance)),
        from_secret("REDIS_URL", secrets.redis_url(instance)),
        from_secret("BROKER_URL", secrets.broker_url(instance)),
        from_secret("JWT_SECRET", secrets.jwt_secret(instance)),
        value("INFERENCE_URL", instance.service_url("inference", INFERENCE_PORT)),
        # Every api replica relays the outbox: rows are claimed with SKIP LOCKED, so replicas
        # share the work; a separate relay Deployment would be one more thing to keep alive.
        value("RELAY_IN_API", "true"),
        # Requests reach the api through the web proxy or an ingress, never straight from a
        # client: the client's address (the per-address limits) is in X-Forwarded-For.
        value("FORWARDED_ALLOW_IPS", "*"),
    ]
    if origin := web_origin(instance):
        env.append(value("WEB_ORIGIN", origin))
    return env


def render(instance: Instance) -> list[dict[str, Any]]:
    """The Service always; the Deployment and its guards once a tag's migrations are applied."""
    out = [service(instance, "api", [("http", PORT)])]
    tag = instance.serving_tag
    if tag is None:
        return out
    api = instance.spec.api
    main = container(
        "api",
        instance.image(tag),
        pull_policy=instance.spec.image.pull_policy,
        args=["api", "--host", "0.0.0.0", "--port", str(PORT)],
        env=_env(instance),
        ports=[("http", PORT)],
        spec=api.resources,
        probes={
            "readinessProbe": http_probe("/readyz", "http", period=5),
            "livenessProbe": http_probe("/healthz", "http", period=10, failures=6),
        },
        mounts=[mount("tmp", "/tmp")],
    )
    template = pod_template(instance, "api", [main], volumes=[scratch("tmp")], spread=True)
    replicas = None if api.autoscaling.enabled else api.replicas
    out.append(deployment(instance, "api", replicas, template))
    fewest = api.autoscaling.min_replicas if api.autoscaling.enabled else api.replicas
    if fewest > 1:
        out.append(_disruption_budget(instance))
    if api.autoscaling.enabled:
        out.append(_autoscaler(instance))
    return out


def _disruption_budget(instance: Instance) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": instance.metadata("api"),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": instance.selector("api")},
        },
    }


def _autoscaler(instance: Instance) -> dict[str, Any]:
    scaling = instance.spec.api.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": instance.metadata("api"),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": instance.child("api"),
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": STREAMS_METRIC},
                        "target": {
                            "type": "AverageValue",
                            "averageValue": str(scaling.target_active_streams),
                        },
                    },
                }
            ],
        },
    }

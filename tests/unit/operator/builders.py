"""Builders for the renderer tests: a MiniChat from a spec, rendered with fixed secret values."""

from __future__ import annotations

from typing import Any

from minichat_operator.render import GeneratedSecrets, Manifest, render
from minichat_operator.spec import MiniChat

UID = "6f1c3e0a-0000-4000-8000-000000000001"
# Distinctive, so a test can search every other object for them.
VALUES = GeneratedSecrets(
    jwt_secret="jwt-value-Zq8xK2mW9vR4tY7uP1sD3fG6hJ0kL5nB",
    postgres_password="pg-password-5e2d9c4b7a1f",
    redis_password="redis-password-8c3a6f1e9b2d",
    rabbitmq_password="amqp-password-4b7e2a9d6c1f",
)
EXTERNAL = {
    "postgres": {"external": {"urlSecretRef": {"name": "team-db", "key": "dsn"}}},
    "redis": {"external": {"urlSecretRef": {"name": "team-redis"}}},
    "rabbitmq": {"external": {"urlSecretRef": {"name": "team-amqp"}}},
}
OPENAI = {
    "backend": "openai",
    "upstream": {
        "url": "http://vllm.models.svc:8000/v1",
        "model": "google/gemma-3-270m-it",
        "apiKeySecretRef": {"name": "model-server", "key": "api-key"},
    },
}
# The matrix every general property is checked over.
SPECS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "external": {**EXTERNAL, "inference": OPENAI},
    "scaled": {
        "api": {
            "replicas": 6,
            "resources": {"requests": {"cpu": 2}, "limits": {"cpu": "4", "memory": "2Gi"}},
        },
        "inference": {"replicas": 3},
        "worker": {"replicas": 4},
        "web": {"replicas": 2},
        "postgres": {"managed": {"storage": "100Gi", "storageClassName": "fast"}},
    },
    "autoscaling": {"api": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 30}}},
    "ingress": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "chat.example.com",
            "tlsSecretName": "chat-tls",
        }
    },
    "openai": {"inference": OPENAI},
    "single": {"api": {"replicas": 1}, "auth": {"jwtSecretRef": {"name": "my-jwt"}}},
    "observability": {
        "observability": {"otlpEndpoint": "http://otel-collector:4318", "serviceMonitor": True}
    },
}


def minichat(
    spec: dict[str, Any] | None = None,
    *,
    name: str = "demo",
    uid: str = UID,
    annotations: dict[str, str] | None = None,
) -> MiniChat:
    return MiniChat.model_validate(
        {
            "apiVersion": "minichat.dev/v1alpha1",
            "kind": "MiniChat",
            "metadata": {
                "name": name,
                "namespace": "chat",
                "uid": uid,
                "annotations": annotations or {},
            },
            "spec": spec or {},
        }
    )


def rendered(
    spec: dict[str, Any] | None = None,
    *,
    serving_tag: str | None = "0.1.0",
    **options: Any,
) -> Manifest:
    return render(minichat(spec, **options), VALUES, serving_tag=serving_tag)


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    template = obj.get("spec", {}).get("template")
    return [template["spec"]] if template else []


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}

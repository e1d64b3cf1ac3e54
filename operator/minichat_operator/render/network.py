"""NetworkPolicies: only this MiniChat's own Pods that use a managed database or broker may
reach it (external services are outside the cluster's policies)."""

from __future__ import annotations

from typing import Any

from minichat_operator.render import secrets
from minichat_operator.render.instance import PART_OF, Instance

# Who talks to what: the rest of the namespace, and other MiniChats in it, do not.
CLIENTS = {
    "postgres": (("api", "migrations", "worker"), secrets.POSTGRES_PORT),
    "redis": (("api",), secrets.REDIS_PORT),
    "rabbitmq": (("api", "worker"), secrets.AMQP_PORT),
}


def _policy(instance: Instance, component: str) -> dict[str, Any]:
    clients, port = CLIENTS[component]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": instance.metadata(component),
        "spec": {
            "podSelector": {"matchLabels": instance.selector(component)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "podSelector": {
                                "matchLabels": {
                                    "app.kubernetes.io/instance": instance.name,
                                    "app.kubernetes.io/part-of": PART_OF,
                                },
                                "matchExpressions": [
                                    {
                                        "key": "app.kubernetes.io/component",
                                        "operator": "In",
                                        "values": list(clients),
                                    }
                                ],
                            }
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            ],
        },
    }


def render(instance: Instance) -> list[dict[str, Any]]:
    spec = instance.spec
    managed = {
        "postgres": spec.postgres.managed is not None,
        "redis": spec.redis.managed is not None,
        "rabbitmq": spec.rabbitmq.managed is not None,
    }
    return [_policy(instance, component) for component, on in managed.items() if on]

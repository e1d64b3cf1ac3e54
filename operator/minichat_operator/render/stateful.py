"""What the managed PostgreSQL, Redis and RabbitMQ share: one StatefulSet with a claim for its
data, and the headless Service that names its Pod (and that clients connect to)."""

from __future__ import annotations

from typing import Any

from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import pod_template, service


def headless_service(instance: Instance, component: str, port: tuple[str, int]) -> dict[str, Any]:
    return service(instance, component, [port], headless=True)


def statefulset(
    instance: Instance,
    component: str,
    main: dict[str, Any],
    *,
    uid: int,
    storage: str,
    storage_class: str,
    volumes: list[dict[str, Any]],
) -> dict[str, Any]:
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    }
    if storage_class:
        claim_spec["storageClassName"] = storage_class
    # The claims outlive the StatefulSet (and so the MiniChat) unless the user asked for their
    # deletion; with Delete, Kubernetes makes the StatefulSet their owner.
    retention = "Delete" if instance.delete_data else "Retain"
    template = pod_template(instance, component, [main], uid=uid, volumes=volumes, grace_seconds=60)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": instance.metadata(component),
        "spec": {
            "replicas": 1,
            "serviceName": instance.child(component),
            "selector": {"matchLabels": instance.selector(component)},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": retention,
                "whenScaled": "Retain",
            },
            "template": template,
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": instance.labels(component)},
                    "spec": claim_spec,
                }
            ],
        },
    }

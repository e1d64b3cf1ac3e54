"""Managed Redis (the official image): append-only file on its volume, a generated password."""

from __future__ import annotations

from typing import Any

from minichat_operator.render import secrets
from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import container, exec_probe, from_secret, mount, scratch
from minichat_operator.render.stateful import headless_service, statefulset

# The redis user of the official image.
REDIS_UID = 999


def render(instance: Instance) -> list[dict[str, Any]]:
    managed = instance.spec.redis.managed
    if managed is None:
        return []
    password = secrets.password(instance, "redis")
    main = container(
        "redis",
        managed.image,
        pull_policy="IfNotPresent",
        # The kubelet expands $(REDIS_PASSWORD) from the env: the spec holds only its name.
        args=[
            "redis-server",
            "--requirepass",
            "$(REDIS_PASSWORD)",
            "--appendonly",
            "yes",
            "--dir",
            "/data",
        ],
        env=[
            from_secret("REDIS_PASSWORD", password),
            # redis-cli (the probes) reads its password from here.
            from_secret("REDISCLI_AUTH", password),
        ],
        ports=[("redis", secrets.REDIS_PORT)],
        spec=managed.resources,
        probes={
            "readinessProbe": exec_probe(["redis-cli", "ping"], period=5),
            "livenessProbe": exec_probe(["redis-cli", "ping"], period=15, failures=6),
        },
        mounts=[mount("data", "/data"), mount("tmp", "/tmp")],
    )
    return [
        headless_service(instance, "redis", ("redis", secrets.REDIS_PORT)),
        statefulset(
            instance,
            "redis",
            main,
            uid=REDIS_UID,
            storage=managed.storage,
            storage_class=managed.storage_class_name,
            volumes=[scratch("tmp")],
        ),
    ]

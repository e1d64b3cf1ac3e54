"""Managed RabbitMQ (the official image) with a generated password for its one user."""

from __future__ import annotations

from typing import Any

from minichat_operator.render import secrets
from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import (
    container,
    exec_probe,
    from_secret,
    mount,
    scratch,
    value,
)
from minichat_operator.render.stateful import headless_service, statefulset

# The rabbitmq user of the official image.
RABBITMQ_UID = 999


def render(instance: Instance) -> list[dict[str, Any]]:
    managed = instance.spec.rabbitmq.managed
    if managed is None:
        return []
    # Each diagnostics call starts an Erlang VM: slow, hence the long timeouts and periods.
    ping = ["rabbitmq-diagnostics", "-q", "ping"]
    main = container(
        "rabbitmq",
        managed.image,
        pull_policy="IfNotPresent",
        env=[
            value("RABBITMQ_DEFAULT_USER", secrets.USER),
            from_secret("RABBITMQ_DEFAULT_PASS", secrets.password(instance, "rabbitmq")),
        ],
        ports=[("amqp", secrets.AMQP_PORT)],
        spec=managed.resources,
        probes={
            "startupProbe": exec_probe(ping, period=10, failures=30, timeout=20),
            "readinessProbe": exec_probe(ping, period=20, timeout=20),
            "livenessProbe": exec_probe(ping, period=30, failures=6, timeout=20),
        },
        mounts=[mount("data", "/var/lib/rabbitmq"), mount("tmp", "/tmp")],
    )
    return [
        headless_service(instance, "rabbitmq", ("amqp", secrets.AMQP_PORT)),
        statefulset(
            instance,
            "rabbitmq",
            main,
            uid=RABBITMQ_UID,
            storage=managed.storage,
            storage_class=managed.storage_class_name,
            volumes=[scratch("tmp")],
        ),
    ]

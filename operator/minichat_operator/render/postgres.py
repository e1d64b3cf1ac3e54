"""Managed PostgreSQL (the official image) with its generated password."""

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

# The postgres user of the official image.
POSTGRES_UID = 999
DATA = "/var/lib/postgresql/data"


def render(instance: Instance) -> list[dict[str, Any]]:
    managed = instance.spec.postgres.managed
    if managed is None:
        return []
    ready = ["pg_isready", "-h", "127.0.0.1", "-U", secrets.USER, "-d", secrets.DATABASE]
    main = container(
        "postgres",
        managed.image,
        pull_policy="IfNotPresent",
        env=[
            value("POSTGRES_USER", secrets.USER),
            value("POSTGRES_DB", secrets.DATABASE),
            from_secret("POSTGRES_PASSWORD", secrets.password(instance, "postgres")),
            # A directory below the mount: a fresh volume's lost+found would stop initdb.
            value("PGDATA", f"{DATA}/pgdata"),
        ],
        ports=[("postgres", secrets.POSTGRES_PORT)],
        spec=managed.resources,
        probes={
            "startupProbe": exec_probe(ready, period=5, failures=60),
            "readinessProbe": exec_probe(ready, period=5),
            "livenessProbe": exec_probe(ready, period=15, failures=6),
        },
        mounts=[
            mount("data", DATA),
            mount("run", "/var/run/postgresql"),
            mount("tmp", "/tmp"),
            mount("shm", "/dev/shm"),
        ],
    )
    volumes = [scratch("run", "1Mi"), scratch("tmp"), scratch("shm", "256Mi", memory=True)]
    return [
        headless_service(instance, "postgres", ("postgres", secrets.POSTGRES_PORT)),
        statefulset(
            instance,
            "postgres",
            main,
            uid=POSTGRES_UID,
            storage=managed.storage,
            storage_class=managed.storage_class_name,
            volumes=volumes,
        ),
    ]

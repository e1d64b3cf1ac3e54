"""Every object of one MiniChat, in the order they are created, and as multi-document YAML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from minichat_operator.render import (
    api,
    inference,
    ingress,
    migrations,
    monitoring,
    network,
    postgres,
    rabbitmq,
    redis,
    secrets,
    web,
    worker,
)
from minichat_operator.render.instance import Instance
from minichat_operator.spec import MiniChat


@dataclass(frozen=True)
class Manifest:
    """`generated`: Secrets the operator creates once and never updates (their values are
    generated); `applied`: everything else, server-side applied on every reconcile."""

    generated: list[dict[str, Any]]
    applied: list[dict[str, Any]]

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [*self.generated, *self.applied]


def render(
    minichat: MiniChat, values: secrets.GeneratedSecrets, *, serving_tag: str | None
) -> Manifest:
    """The objects of `minichat`; `serving_tag` is the tag the api and worker run (None before
    any migration has succeeded, when only what does not need the schema is rendered)."""
    instance = Instance.of(minichat, serving_tag)
    applied = [
        *postgres.render(instance),
        *redis.render(instance),
        *rabbitmq.render(instance),
        migrations.render(instance),
        *inference.render(instance),
        *api.render(instance),
        *worker.render(instance),
        *web.render(instance),
        *network.render(instance),
        *ingress.render(instance),
        *monitoring.render(instance),
    ]
    return Manifest(generated=secrets.render(instance, values), applied=applied)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML, fields in the order rendered: the same objects, the same bytes."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, width=100)

"""The Secrets a MiniChat reads: where each URL and key lives (a generated Secret or the user's),
and the generated ones themselves, which the operator creates once and never rewrites."""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass
from typing import Any

from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import SecretRef

# Fixed, not secret: the role, database and broker user the managed services are created with.
USER = "minichat"
DATABASE = "minichat"
POSTGRES_PORT, REDIS_PORT, AMQP_PORT = 5432, 6379, 5672


@dataclass(frozen=True)
class GeneratedSecrets:
    """The values of the generated Secrets. `random()` in the operator, just before it creates
    them; fixed ones in tests, so rendering stays a pure function of its inputs."""

    jwt_secret: str
    postgres_password: str
    redis_password: str
    rabbitmq_password: str

    @classmethod
    def random(cls) -> GeneratedSecrets:
        # Hex passwords go into URLs and shell-free probes without any quoting.
        return cls(
            jwt_secret=random.token_urlsafe(48),
            postgres_password=random.token_hex(24),
            redis_password=random.token_hex(24),
            rabbitmq_password=random.token_hex(24),
        )


def database_url(instance: Instance) -> SecretRef:
    external = instance.spec.postgres.external
    if external:
        return SecretRef(external.url_secret_ref.name, external.url_secret_ref.key)
    return SecretRef(instance.child("postgres"), "url")


def redis_url(instance: Instance) -> SecretRef:
    external = instance.spec.redis.external
    if external:
        return SecretRef(external.url_secret_ref.name, external.url_secret_ref.key)
    return SecretRef(instance.child("redis"), "url")


def broker_url(instance: Instance) -> SecretRef:
    external = instance.spec.rabbitmq.external
    if external:
        return SecretRef(external.url_secret_ref.name, external.url_secret_ref.key)
    return SecretRef(instance.child("rabbitmq"), "url")


def jwt_secret(instance: Instance) -> SecretRef:
    ref = instance.spec.auth.jwt_secret_ref
    return SecretRef(ref.name or instance.child("jwt"), ref.key)


def password(instance: Instance, component: str) -> SecretRef:
    """The generated password of a managed backing service (postgres, redis, rabbitmq)."""
    return SecretRef(instance.child(component), "password")


def _secret(
    instance: Instance, component: str, name: str, data: dict[str, str], *, owned: bool
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": instance.metadata(component, name, owned=owned),
        "type": "Opaque",
        "stringData": data,
    }


def render(instance: Instance, values: GeneratedSecrets) -> list[dict[str, Any]]:
    """Generated Secrets only: the user's own (an external URL, an API key) are only named.
    Credentials of a managed database stay with its volumes: they are owned by the MiniChat,
    and so deleted with it, only when its volumes are too (the delete-data annotation); a
    MiniChat made again with the same name then finds both and logs in with the kept password."""
    spec = instance.spec
    out: list[dict[str, Any]] = []
    if not spec.auth.jwt_secret_ref.name:
        ref = jwt_secret(instance)
        out.append(_secret(instance, "api", ref.name, {ref.key: values.jwt_secret}, owned=True))
    keep = not instance.delete_data
    if spec.postgres.managed:
        host = f"{instance.child('postgres')}:{POSTGRES_PORT}"
        url = f"postgresql+psycopg://{USER}:{values.postgres_password}@{host}/{DATABASE}"
        data = {
            "username": USER,
            "password": values.postgres_password,
            "database": DATABASE,
            "url": url,
        }
        name = instance.child("postgres")
        out.append(_secret(instance, "postgres", name, data, owned=not keep))
    if spec.redis.managed:
        url = f"redis://:{values.redis_password}@{instance.child('redis')}:{REDIS_PORT}/0"
        data = {"password": values.redis_password, "url": url}
        out.append(_secret(instance, "redis", instance.child("redis"), data, owned=not keep))
    if spec.rabbitmq.managed:
        host = f"{instance.child('rabbitmq')}:{AMQP_PORT}"
        # `//`: the default vhost `/`, as amqp URLs spell it.
        url = f"amqp://{USER}:{values.rabbitmq_password}@{host}//"
        data = {"username": USER, "password": values.rabbitmq_password, "url": url}
        name = instance.child("rabbitmq")
        out.append(_secret(instance, "rabbitmq", name, data, owned=not keep))
    return out

"""The MiniChat resource as pydantic models, with the CRD's defaults, bounds and CEL rules, so a
spec the API server would refuse is refused here too (tests compare the two field by field)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

GROUP = "minichat.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "MiniChat"
PLURAL = "minichats"
# Children are named `<name>-<suffix>`; the longest must stay a DNS label (see the CRD's rule).
MAX_NAME_LENGTH = 40
DELETE_DATA_ANNOTATION = "minichat.dev/delete-data"

QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
STORAGE = r"^([0-9]+(\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
HTTP_URL = r"^(https?://.+)?$"
HOST = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"
_CREDENTIALS_IN_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*@")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

Quantity = int | Annotated[str, StringConstraints(pattern=QUANTITY)]
Name = Annotated[str, StringConstraints(max_length=253)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=253)]
Image = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Storage = Annotated[str, StringConstraints(max_length=32, pattern=STORAGE)]
Replicas = Annotated[int, Field(ge=0, le=100)]


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors (the CRD would
    prune them silently, which hides a typo in a file given to `minichat operator render`)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def _quantities(**values: Quantity) -> Callable[[], dict[str, Quantity]]:
    return lambda: dict(values)


class Resources(Model):
    """Requests and limits of one container; each component's subclass has its defaults
    (the CRD defaults requests and limits each, so giving one keeps the other's default)."""

    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class ApiResources(Resources):
    requests: dict[str, Quantity] = Field(default_factory=_quantities(cpu="100m", memory="256Mi"))
    limits: dict[str, Quantity] = Field(default_factory=_quantities(memory="512Mi"))


class InferenceResources(Resources):
    requests: dict[str, Quantity] = Field(default_factory=_quantities(cpu="1", memory="1Gi"))
    limits: dict[str, Quantity] = Field(default_factory=_quantities(memory="2Gi"))


class WorkerResources(Resources):
    requests: dict[str, Quantity] = Field(default_factory=_quantities(cpu="100m", memory="256Mi"))
    limits: dict[str, Quantity] = Field(default_factory=_quantities(memory="512Mi"))


class WebResources(Resources):
    requests: dict[str, Quantity] = Field(default_factory=_quantities(cpu="10m", memory="32Mi"))
    limits: dict[str, Quantity] = Field(default_factory=_quantities(memory="128Mi"))


class PostgresResources(Resources):
    requests: dict[str, Quantity] = Field(default_factory=_quantities(cpu="100m", memory="256Mi"))
    limits: dict[str, Quantity] = Field(default_factory=_quantities(memory="1Gi"))


class RedisResources(Resources):
    requests: dict[str, Quantity] = Field(default_factory=_quantities(cpu="50m", memory="64Mi"))
    limits: dict[str, Quantity] = Field(default_factory=_quantities(memory="256Mi"))


class RabbitMQResources(Resources):
    requests: dict[str, Quantity] = Field(default_factory=_quantities(cpu="100m", memory="256Mi"))
    limits: dict[str, Quantity] = Field(default_factory=_quantities(memory="1Gi"))


class ImageSpec(Model):
    repository: Image = "ghcr.io/minichat/minichat"
    tag: Annotated[
        str,
        StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"),
    ] = "0.1.0"
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class Autoscaling(Model):
    enabled: bool = False
    min_replicas: Annotated[int, Field(ge=1, le=100)] = 2
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 10
    target_active_streams: Annotated[int, Field(ge=1, le=100_000)] = 100


class ApiSpec(Model):
    replicas: Replicas = 2
    resources: ApiResources = Field(default_factory=ApiResources)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)

    @model_validator(mode="after")
    def _min_within_max(self) -> ApiSpec:
        if self.autoscaling.min_replicas > self.autoscaling.max_replicas:
            raise ValueError(
                "api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas"
            )
        return self


class SecretKeyRef(Model):
    """A key of a Secret in the MiniChat's namespace; an empty name means none (or generated)."""

    name: Name = ""
    key: Key


class ApiKeyRef(SecretKeyRef):
    key: Key = "api-key"


class JwtSecretRef(SecretKeyRef):
    key: Key = "jwt-secret"


class Upstream(Model):
    url: Annotated[str, StringConstraints(max_length=2048, pattern=HTTP_URL)] = ""
    model: Name = ""
    api_key_secret_ref: ApiKeyRef = Field(default_factory=ApiKeyRef)

    @model_validator(mode="after")
    def _no_credentials(self) -> Upstream:
        if _CREDENTIALS_IN_URL.match(self.url):
            raise ValueError(
                "inference.upstream.url must not hold credentials; put the key in a Secret "
                "named by inference.upstream.apiKeySecretRef"
            )
        return self


class InferenceSpec(Model):
    replicas: Replicas = 1
    backend: Literal["embedded", "openai"] = "embedded"
    upstream: Upstream = Field(default_factory=Upstream)
    resources: InferenceResources = Field(default_factory=InferenceResources)

    @model_validator(mode="after")
    def _openai_needs_url(self) -> InferenceSpec:
        if self.backend == "openai" and not self.upstream.url:
            raise ValueError("inference.upstream.url is required when inference.backend is openai")
        return self


class WorkerSpec(Model):
    replicas: Replicas = 1
    resources: WorkerResources = Field(default_factory=WorkerResources)


class WebSpec(Model):
    replicas: Replicas = 1
    resources: WebResources = Field(default_factory=WebResources)


class UrlSecretRef(Model):
    name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    key: Key = "url"


class External(Model):
    url_secret_ref: UrlSecretRef


class ManagedPostgres(Model):
    storage: Storage = "10Gi"
    storage_class_name: Name = ""
    image: Image = "postgres:16"
    resources: PostgresResources = Field(default_factory=PostgresResources)


class ManagedRedis(Model):
    storage: Storage = "1Gi"
    storage_class_name: Name = ""
    image: Image = "redis:7.4"
    resources: RedisResources = Field(default_factory=RedisResources)


class ManagedRabbitMQ(Model):
    storage: Storage = "2Gi"
    storage_class_name: Name = ""
    image: Image = "rabbitmq:4.1"
    resources: RabbitMQResources = Field(default_factory=RabbitMQResources)


def _exactly_one(service: str, managed: object, external: object) -> None:
    if (managed is None) == (external is None):
        raise ValueError(f"{service} needs exactly one of managed or external")


class PostgresSpec(Model):
    managed: ManagedPostgres | None = None
    external: External | None = None

    @model_validator(mode="after")
    def _one(self) -> PostgresSpec:
        _exactly_one("postgres", self.managed, self.external)
        return self


class RedisSpec(Model):
    managed: ManagedRedis | None = None
    external: External | None = None

    @model_validator(mode="after")
    def _one(self) -> RedisSpec:
        _exactly_one("redis", self.managed, self.external)
        return self


class RabbitMQSpec(Model):
    managed: ManagedRabbitMQ | None = None
    external: External | None = None

    @model_validator(mode="after")
    def _one(self) -> RabbitMQSpec:
        _exactly_one("rabbitmq", self.managed, self.external)
        return self


class AuthSpec(Model):
    jwt_secret_ref: JwtSecretRef = Field(default_factory=JwtSecretRef)


class IngressSpec(Model):
    enabled: bool = False
    class_name: Name = ""
    host: Annotated[str, StringConstraints(max_length=253, pattern=HOST)] = ""
    tls_secret_name: Name = ""


class ObservabilitySpec(Model):
    otlp_endpoint: Annotated[str, StringConstraints(max_length=2048, pattern=HTTP_URL)] = ""
    service_monitor: bool = False


class MiniChatSpec(Model):
    """`spec` of a MiniChat; `MiniChatSpec()` is the same complete spec the CRD makes of `{}`."""

    image: ImageSpec = Field(default_factory=ImageSpec)
    api: ApiSpec = Field(default_factory=ApiSpec)
    inference: InferenceSpec = Field(default_factory=InferenceSpec)
    worker: WorkerSpec = Field(default_factory=WorkerSpec)
    web: WebSpec = Field(default_factory=WebSpec)
    postgres: PostgresSpec = Field(default_factory=lambda: PostgresSpec(managed=ManagedPostgres()))
    redis: RedisSpec = Field(default_factory=lambda: RedisSpec(managed=ManagedRedis()))
    rabbitmq: RabbitMQSpec = Field(default_factory=lambda: RabbitMQSpec(managed=ManagedRabbitMQ()))
    auth: AuthSpec = Field(default_factory=AuthSpec)
    ingress: IngressSpec = Field(default_factory=IngressSpec)
    observability: ObservabilitySpec = Field(default_factory=ObservabilitySpec)

    def to_wire(self) -> dict[str, Any]:
        """The spec as the API server stores it (camelCase, absent alternatives left out)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Metadata(BaseModel):
    """The parts of a MiniChat's metadata the renderers use; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    namespace: str = "default"
    uid: str = ""
    annotations: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _a_usable_name(self) -> Metadata:
        if len(self.name) > MAX_NAME_LENGTH:
            raise ValueError(
                f"the name of a MiniChat must be at most {MAX_NAME_LENGTH} characters long"
            )
        if not _DNS_LABEL.match(self.name):
            raise ValueError(
                "the name of a MiniChat must be a DNS label (lower-case letters, digits and '-')"
            )
        return self


class MiniChat(BaseModel):
    """A whole MiniChat resource as read from the API server or a file."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    api_version: Literal["minichat.dev/v1alpha1"] = Field(
        default="minichat.dev/v1alpha1", alias="apiVersion"
    )
    kind: Literal["MiniChat"] = "MiniChat"
    metadata: Metadata
    spec: MiniChatSpec = Field(default_factory=MiniChatSpec)

    @property
    def delete_data(self) -> bool:
        return self.metadata.annotations.get(DELETE_DATA_ANNOTATION) == "true"

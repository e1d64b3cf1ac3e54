"""Process settings, read once at start from the environment (and `.env`): the parts the
deployables share, and `Settings`, which the inference plane and the worker still read."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from minichat.errors import ConfigError

InferenceBackend = Literal["embedded", "openai", "scripted"]
# REDIS_URL / BROKER_URL of the all-in-one mode: streams and events stay inside the process.
MEMORY_URL = "memory://"

_EXAMPLES = {
    "database_url": "postgresql+psycopg://minichat:secret@127.0.0.1:5432/minichat",
    "redis_url": "redis://127.0.0.1:6379/0",
    "broker_url": "amqp://guest:guest@127.0.0.1:5672//",
    "inference_url": "http://127.0.0.1:8001",
    "inference_upstream_url": "http://127.0.0.1:11434/v1",
    "jwt_secret": "the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
}
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "jwt-secret", "please-change"}
MIN_JWT_SECRET_LENGTH = 32


def psycopg_url(value: str) -> str:
    """A database URL our drivers take: libpq's `postgresql://` becomes psycopg 3's."""
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # Operators paste libpq URLs; we always talk psycopg 3.
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if not value.startswith(("postgresql+psycopg://", "sqlite+aiosqlite://")):
        raise ValueError(
            "must start with postgresql+psycopg:// or sqlite+aiosqlite:// "
            f"(e.g. {_EXAMPLES['database_url']})"
        )
    return value


DatabaseUrl = Annotated[str, AfterValidator(psycopg_url)]


def jwt_secret_problem(secret: SecretStr, environment: str) -> str | None:
    """Why `secret` cannot sign tokens outside local mode, or None."""
    value = secret.get_secret_value()
    if environment == "local":
        return None
    if value.lower() in _PLACEHOLDER_SECRETS:
        return "JWT_SECRET is a placeholder; set a random value of 32+ characters"
    if len(value) < MIN_JWT_SECRET_LENGTH:
        return f"JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters long"
    return None


class CommonSettings(BaseSettings):
    """What every deployable reads; each one's settings class adds its own parts. Names match
    the environment variables (upper-cased)."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )

    environment: Literal["local", "production", "test"] = "production"
    log_level: str = "INFO"

    @classmethod
    def load(cls, **values: Any) -> Self:
        """The settings from the environment, `values` winning over it; a ConfigError naming
        every variable that is missing or malformed."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError("; ".join(_problems(exc))) from exc


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper()
        if error["type"] == "missing":
            example = _EXAMPLES.get(name.lower(), "")
            problems.append(f"{name} is not set" + (f" (e.g. {example})" if example else ""))
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
    return problems


class DatabaseSettings(CommonSettings):
    database_url: DatabaseUrl


class BrokerSettings(CommonSettings):
    broker_url: str


class Settings(CommonSettings):
    """Every setting, each optional, checked by `require`: what the inference plane and the
    worker read until each has a class of its own."""

    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    # Every Redis key this process writes starts with it, so several installs (or test runs)
    # can share one server.
    redis_key_prefix: str = "minichat:"

    jwt_secret: SecretStr | None = None
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)

    # Generations: how many one api process streams at once (more wait in `queued`), the
    # prompt budget, how long finished streams stay replayable, and survival tuning.
    generation_concurrency: int = Field(default=256, ge=1)
    generation_max_tokens: int = Field(default=512, ge=1)
    generation_context_chars: int = Field(default=12_000, ge=100)
    stream_retention_seconds: int = Field(default=600, ge=1)
    stream_max_events: int = Field(default=20_000, ge=100)
    checkpoint_every_tokens: int = Field(default=256, ge=1)
    checkpoint_interval_ms: int = Field(default=1000, ge=10)
    runner_heartbeat_ttl_ms: int = Field(default=5000, ge=100)
    reaper_interval_ms: int = Field(default=1000, ge=10)
    max_adoptions: int = Field(default=3, ge=0)
    inference_timeout_seconds: float = Field(default=120, gt=0)
    inference_connect_timeout_seconds: float = Field(default=2, gt=0)

    # --- Events (issue 5): the outbox relay and the Celery worker. ---
    # The relay runs inside every api process unless RELAY_IN_API=false (then run
    # `minichat relay`); it sends up to RELAY_BATCH_SIZE rows per broker round trip and looks
    # for new rows every RELAY_POLL_INTERVAL_MS when idle. RELAY_METRICS_PORT serves the
    # standalone relay's /metrics (the api serves its own). The worker applies first
    # deliveries in batched commits straight from its consumer, and runs retried events on
    # WORKER_CONCURRENCY threads; it holds WORKER_CONCURRENCY * WORKER_PREFETCH_MULTIPLIER
    # unacked messages (the largest batch), and serves /metrics on WORKER_METRICS_PORT when set.
    relay_in_api: bool = True
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval_ms: int = Field(default=200, ge=1)
    relay_metrics_port: int | None = Field(default=None, ge=1, le=65_535)
    worker_concurrency: int = Field(default=16, ge=1, le=512)
    worker_prefetch_multiplier: int = Field(default=16, ge=1)
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65_535)

    web_origin: str = "http://localhost:3000"
    web_dist_dir: str | None = None  # the built web UI (web/dist), served by the api when set
    max_request_bytes: int = Field(default=1_048_576, ge=1024)

    inference_url: str | None = None
    inference_backend: InferenceBackend = "embedded"
    inference_upstream_url: str | None = None
    inference_upstream_api_key: SecretStr | None = None
    inference_model: str | None = None
    inference_scripted_tokens: int = Field(default=64, ge=0)
    inference_scripted_interval_ms: float = Field(default=20, ge=0)
    inference_max_concurrency: int = Field(default=2, ge=1)
    inference_max_queue: int = Field(default=8, ge=0)
    inference_threads: int | None = Field(default=None, ge=1)
    model_cache_dir: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_database_driver(cls, value: str | None) -> str | None:
        return None if value is None else psycopg_url(value)

    def require(self, *names: str) -> None:
        """Fail with one message naming every missing or unusable setting among `names`."""
        problems = []
        for name in names:
            value = getattr(self, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                example = _EXAMPLES.get(name, "")
                problems.append(
                    f"{name.upper()} is not set" + (f" (e.g. {example})" if example else "")
                )
            elif name == "jwt_secret":
                assert self.jwt_secret is not None
                problem = jwt_secret_problem(self.jwt_secret, self.environment)
                problems.extend([problem] if problem else [])
        if problems:
            raise ConfigError("; ".join(problems))


@lru_cache
def get_settings() -> Settings:
    """The process's settings; tests build `Settings(...)` directly instead."""
    return Settings.load()

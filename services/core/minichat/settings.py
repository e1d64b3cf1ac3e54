"""The parts of the process settings every deployable shares; each deployable's own class
(ApiSettings, InferenceSettings, WorkerSettings, ...) is built from them and read once at start
from the environment (and `.env`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, SecretStr, ValidationError
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
    # `json` (the images' default): one JSON object per line, with trace and generation ids.
    log_format: Literal["text", "json"] = "text"

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

"""The settings of the api (`minichat api`) and of the outbox relay (`minichat relay`), built
on the core's shared parts; each is read once at start with `.load()`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator

from minichat.settings import (
    BrokerSettings,
    CommonSettings,
    DatabaseSettings,
    jwt_secret_problem,
)


class RelayTuning(CommonSettings):
    """The outbox relay sends up to RELAY_BATCH_SIZE rows per broker round trip, looks for new
    rows every RELAY_POLL_INTERVAL_MS when idle, and deletes rows sent more than
    OUTBOX_RETENTION_HOURS ago."""

    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval_ms: int = Field(default=200, ge=1)
    outbox_retention_hours: float = Field(default=24, gt=0)

    def relay_options(self) -> dict[str, Any]:
        """The OutboxRelay's keyword arguments these settings give."""
        return {
            "batch_size": self.relay_batch_size,
            "poll_interval": self.relay_poll_interval_ms / 1000,
            "retention": timedelta(hours=self.outbox_retention_hours),
        }


class RelaySettings(DatabaseSettings, BrokerSettings, RelayTuning):
    """`minichat relay`: the relay as its own process (RELAY_IN_API=false in the api)."""

    # Where the standalone relay serves /metrics (the api serves its own).
    relay_metrics_port: int | None = Field(default=None, ge=1, le=65_535)


class ApiSettings(DatabaseSettings, RelayTuning):
    # Every Redis key this process writes starts with it, so several installs (or test runs)
    # can share one server. `memory://` keeps streams inside the process (all-in-one mode).
    redis_url: str
    redis_key_prefix: str = "minichat:"
    # Required while the relay runs inside the api (the default); `memory://` delivers events
    # in-process, inside `minichat up` only.
    broker_url: str | None = None
    relay_in_api: bool = True

    jwt_secret: SecretStr
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    # Password checks waiting for a CPU beyond those running (429 server_busy beyond).
    password_checks_waiting: int = Field(default=64, ge=0)
    # Per client address: logins a minute, registrations an hour (429 beyond).
    limit_logins_per_address_per_minute: int = Field(default=60, ge=1)
    limit_registrations_per_address_per_hour: int = Field(default=20, ge=1)

    # Generations: how many one api process streams at once (more wait in `queued`), the
    # prompt budget, how long finished streams stay replayable, and survival tuning.
    generation_concurrency: int = Field(default=256, ge=1)
    generation_max_tokens: int = Field(default=512, ge=1)
    generation_context_chars: int = Field(default=12_000, ge=100)
    stream_retention_seconds: int = Field(default=600, ge=1)
    stream_max_events: int = Field(default=20_000, ge=100)
    # Fair use, per user: answers written at once (across every api process), and messages a
    # minute.
    limit_concurrent_answers: int = Field(default=3, ge=1)
    limit_messages_per_minute: int = Field(default=30, ge=1)
    # An SSE client hears a comment after this long without an event, well inside the idle
    # timeouts of proxies (ingress-nginx: 60 s).
    stream_ping_seconds: float = Field(default=5, gt=0, le=30)
    # SSE feeds one user may hold open on one api process (429 beyond).
    stream_max_per_user: int = Field(default=32, ge=1)
    # How long one SSE write may wait for a client that has stopped reading.
    stream_send_timeout_seconds: float = Field(default=30, gt=0)
    checkpoint_every_tokens: int = Field(default=256, ge=1)
    checkpoint_interval_ms: int = Field(default=1000, ge=10)
    runner_heartbeat_ttl_ms: int = Field(default=5000, ge=100)
    reaper_interval_ms: int = Field(default=1000, ge=10)
    max_adoptions: int = Field(default=3, ge=0)

    # The inference plane the api streams answers from.
    inference_url: str
    inference_model: str | None = None
    inference_upstream_api_key: SecretStr | None = None
    inference_timeout_seconds: float = Field(default=120, gt=0)
    inference_connect_timeout_seconds: float = Field(default=2, gt=0)

    web_origin: str = "http://localhost:3000"
    web_dist_dir: str | None = None  # the built web UI (web/dist), served by the api when set
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # All of a request's header lines together (431 beyond); proxies allow 8-32 KiB.
    max_header_bytes: int = Field(default=16_384, ge=1024)

    @model_validator(mode="after")
    def _usable(self) -> Self:
        problems = []
        if self.relay_in_api and not self.broker_url:
            problems.append(
                "BROKER_URL is not set (e.g. amqp://guest:guest@127.0.0.1:5672//); the outbox "
                "relay runs in the api unless RELAY_IN_API=false"
            )
        problem = jwt_secret_problem(self.jwt_secret, self.environment)
        if problem:
            problems.append(problem)
        if problems:
            raise ValueError("; ".join(problems))
        return self

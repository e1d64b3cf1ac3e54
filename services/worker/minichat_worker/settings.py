"""The worker's settings (`minichat worker`), read once at start with `.load()`."""

from __future__ import annotations

from pydantic import Field

from minichat.settings import BrokerSettings, DatabaseSettings


class WorkerSettings(DatabaseSettings, BrokerSettings):
    # First deliveries are applied in batched commits straight from the consumer; retried
    # events run on WORKER_CONCURRENCY threads. The worker holds WORKER_CONCURRENCY *
    # WORKER_PREFETCH_MULTIPLIER unacked messages, which is also its largest batch.
    worker_concurrency: int = Field(default=16, ge=1, le=512)
    worker_prefetch_multiplier: int = Field(default=16, ge=1)
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65_535)

"""The worker's settings (`minichat worker`), read once at start with `.load()`."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from minichat.settings import BrokerSettings, DatabaseSettings


class WorkerSettings(DatabaseSettings, BrokerSettings):
    # First deliveries are applied in batched commits straight from the consumer; retried
    # events run on WORKER_CONCURRENCY threads. The worker holds WORKER_CONCURRENCY *
    # WORKER_PREFETCH_MULTIPLIER unacked messages, which is also its largest batch.
    worker_concurrency: int = Field(default=16, ge=1, le=512)
    worker_prefetch_multiplier: int = Field(default=16, ge=1)
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65_535)
    # Ids of applied events are kept this long to recognise a redelivery, then deleted.
    processed_event_retention_hours: float = Field(default=168, ge=1)

    @property
    def processed_event_retention(self) -> timedelta:
        return timedelta(hours=self.processed_event_retention_hours)

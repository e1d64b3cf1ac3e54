"""Prometheus metrics of the worker process (`minichat_` prefix), served on WORKER_METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS_PROCESSED = Counter(
    "minichat_worker_events_processed_total",
    "Events handled: `applied` the first time, `duplicate` when delivered again.",
    ["event_type", "outcome"],
)
EVENTS_FAILED = Counter(
    "minichat_worker_events_failed_total",
    "Events not applied: `invalid` ones are dead-lettered, `database` ones retried later.",
    ["event_type", "reason"],
)
EVENT_IDS_PRUNED = Counter(
    "minichat_worker_event_ids_pruned_total",
    "Processed event ids deleted after their retention period.",
)

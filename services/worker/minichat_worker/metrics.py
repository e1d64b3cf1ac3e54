"""Prometheus metrics of the worker process (`minichat_` prefix), served on WORKER_METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS_PROCESSED = Counter(
    "minichat_worker_events_processed_total",
    "Events handled: `applied` the first time, `duplicate` when delivered again.",
    ["event_type", "outcome"],
)
EVENTS_RETRIED = Counter(
    "minichat_worker_events_retried_total",
    "Events put back for a later try because the database could not be reached.",
    ["event_type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "minichat_worker_events_dead_lettered_total",
    "Events that can never be applied (invalid, refused by the database), dead-lettered.",
    ["event_type"],
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

# Every series from the start at 0, so a rate or an alert sees its first event.
for _event_type in ("usage_event", "audit_event"):
    for _outcome in ("applied", "duplicate"):
        EVENTS_PROCESSED.labels(_event_type, _outcome)
    for _reason in ("invalid", "database"):
        EVENTS_FAILED.labels(_event_type, _reason)
    EVENTS_RETRIED.labels(_event_type)
    EVENTS_DEAD_LETTERED.labels(_event_type)

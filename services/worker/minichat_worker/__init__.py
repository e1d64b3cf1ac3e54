"""The Celery worker: consumes usage and audit events and writes aggregates, exactly once."""

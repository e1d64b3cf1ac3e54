"""The Celery app factory: RabbitMQ topology, reliability settings, and the event tasks.

Messages are acknowledged only after their task has run (`acks_late`), so a worker that dies
mid-task loses nothing: RabbitMQ redelivers what was never acknowledged. A task that fails for
good is rejected without requeueing (`task_acks_on_failure_or_timeout=False`), which sends it
to the dead-letter queue rather than round and round.
"""

from __future__ import annotations

import logging
from typing import Any

import kombu
from celery import Celery

from minichat.contracts.events import (
    DEAD_LETTER_QUEUE,
    EVENTS_EXCHANGE,
    EVENTS_QUEUE,
    EVENTS_ROUTING_KEY,
    TOPOLOGY,
)
from minichat_worker.aggregates import EventStore
from minichat_worker.settings import WorkerSettings
from minichat_worker.tasks import register_tasks

logger = logging.getLogger(__name__)
# kombu's constructors carry no type hints.
_kombu: Any = kombu

# The core's TOPOLOGY as kombu queues, declared in its order; the worker consumes the events.
QUEUES = {
    bound.queue: _kombu.Queue(
        bound.queue,
        _kombu.Exchange(bound.exchange, type="direct", durable=True),
        routing_key=bound.routing_key,
        durable=True,
        queue_arguments=dict(bound.arguments),
    )
    for bound in TOPOLOGY
}
EVENTS = QUEUES[EVENTS_QUEUE]


def connect_store(settings: WorkerSettings) -> EventStore:
    """The store the worker's tasks write to, on DATABASE_URL."""
    # Each event type's batcher holds one connection; retried tasks and the pruner share the
    # rest.
    return EventStore.connect(settings.database_url, pool_size=min(settings.worker_concurrency, 8))


def create_app(settings: WorkerSettings, store: EventStore | None = None) -> Celery:
    """A Celery app on BROKER_URL whose tasks write to DATABASE_URL (or to `store`)."""
    if store is None:
        store = connect_store(settings)
    app = Celery("minichat", set_as_current=False)
    app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # Retries republish the task; wait for the broker's confirm before acking the original.
        broker_transport_options={"confirm_publish": True},
        # Also paces the consumer loop: with the default 120 s a stop took ~10 s to notice.
        broker_heartbeat=10,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_prefetch_multiplier=settings.worker_prefetch_multiplier,
        worker_concurrency=settings.worker_concurrency,
        worker_pool="threads",
        worker_hijack_root_logger=False,
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_queues=[EVENTS],
        task_default_queue=EVENTS_QUEUE,
        task_default_exchange=EVENTS_EXCHANGE,
        task_default_routing_key=EVENTS_ROUTING_KEY,
        task_create_missing_queues=False,
        enable_utc=True,
    )
    register_tasks(app, store)
    return app


def declare_dead_letters(app: Celery) -> None:
    """Declare the dead-letter queue, which the worker never consumes, before consuming."""
    with app.connection_for_write() as connection:
        # A broker still starting is waited for, as Celery itself does, not a crash.
        connection.ensure_connection(max_retries=None, interval_start=1, interval_max=10)
        for queue in QUEUES.values():
            queue(connection.default_channel).declare()
    logger.info("dead letters go to queue %s", DEAD_LETTER_QUEUE)

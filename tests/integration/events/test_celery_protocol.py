"""The api writes Celery's task messages itself (minichat_api.outbox.amqp) and the worker takes
fresh ones off Celery's consumer on a path of its own (minichat_worker.strategy). Both rest on
Celery's message protocol 2 as Celery 5.7 speaks it, pinned in pyproject.toml; these tests
fail if an upgrade changes what either relies on."""

from __future__ import annotations

import uuid

import aio_pika
import psycopg

from minichat.contracts.events import EVENTS_EXCHANGE, EVENTS_ROUTING_KEY, USAGE_EVENT_TASK
from minichat_api.outbox.amqp import task_message
from tests.eventually import eventually
from tests.integration.events.conftest import Worker, requests_of, usage_event


async def _publish(broker_url: str, message: aio_pika.Message) -> None:
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(message, routing_key=EVENTS_ROUTING_KEY)


def _api_message(user_id: uuid.UUID, *, retries: int) -> tuple[uuid.UUID, aio_pika.Message]:
    event = usage_event(user_id)
    message = task_message(event.event_id, USAGE_EVENT_TASK, event.model_dump_json())
    assert message.headers is not None
    message.headers["retries"] = retries
    return event.event_id, message


def _ran_as_a_celery_task(worker: Worker, task_id: uuid.UUID) -> bool:
    # Celery's tracer logs each task it runs; the batched path never goes through it.
    return f"Task {USAGE_EVENT_TASK}[{task_id}] succeeded" in worker.output()


async def test_an_api_message_runs_as_a_task_on_celery_s_own_consumer_path(
    worker: Worker, db_events: psycopg.AsyncConnection, broker_url: str
) -> None:
    """A message the strategy leaves to Celery (a retry count, as on a redelivered retry) is
    decoded by Celery's own protocol-2 parser and run by its task tracer."""
    user_id = uuid.uuid4()
    task_id, message = _api_message(user_id, retries=1)
    await _publish(broker_url, message)

    await eventually(lambda: _ran_as_a_celery_task(worker, task_id), "Celery to run the task")
    assert await requests_of(db_events, user_id) == 1


async def test_a_fresh_api_message_takes_the_batched_path(
    worker: Worker, db_events: psycopg.AsyncConnection, broker_url: str
) -> None:
    user_id = uuid.uuid4()
    task_id, message = _api_message(user_id, retries=0)
    await _publish(broker_url, message)

    async def applied() -> bool:
        return await requests_of(db_events, user_id) == 1

    await eventually(applied, "the event to be applied")
    assert not _ran_as_a_celery_task(worker, task_id), "a fresh event left the batched path"

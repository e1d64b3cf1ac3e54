"""Messages no task can apply go to the dead-letter queue, with a log line, and nothing stalls."""

from __future__ import annotations

import uuid

import aio_pika
import psycopg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from minichat.contracts.events import (
    DEAD_LETTER_QUEUE,
    EVENTS_EXCHANGE,
    EVENTS_QUEUE,
    EVENTS_ROUTING_KEY,
    USAGE_EVENT_TASK,
)
from minichat.db.models import OutboxEvent
from minichat_api.outbox.relay import OutboxRelay
from tests.eventually import eventually
from tests.integration.events.conftest import (
    Worker,
    add_events,
    queue_drained,
    requests_of,
    usage_event,
)


async def _dead_letter_ids(broker_url: str, wanted: set[str]) -> set[str]:
    """Take the wanted messages off the dead-letter queue; answers the ids found."""
    found: set[str] = set()
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(DEAD_LETTER_QUEUE)
        while (message := await queue.get(fail=False, no_ack=False)) is not None:
            task_id = str(message.headers.get("id"))
            if task_id in wanted:
                found.add(task_id)
                await message.ack()
            else:
                await message.reject(requeue=True)
                break
    return found


async def test_malformed_events_are_dead_lettered_and_the_worker_goes_on(
    worker: Worker,
    relay: OutboxRelay,  # noqa: ARG001 - publishes what the test writes to the outbox
    sessions: async_sessionmaker[AsyncSession],
    db_events: psycopg.AsyncConnection,
    broker_url: str,
) -> None:
    user_id = uuid.uuid4()
    poison = {
        "missing fields": OutboxEvent(event_type="usage_event", payload={"model": "x"}),
        "wrong types": OutboxEvent(
            event_type="audit_event",
            payload={"actor_user_id": "not-a-uuid", "action": 7, "event_id": "nope"},
        ),
        "not an object": OutboxEvent(event_type="usage_event", payload=["a", "list"]),
        "no such event type": OutboxEvent(event_type="made_up_event", payload={"a": 1}),
        "too long for the column": OutboxEvent(
            event_type="usage_event",
            payload=usage_event(user_id, model="m" * 500).model_dump(mode="json"),
        ),
    }
    async with sessions() as session:
        session.add_all(poison.values())
        await session.commit()
    wanted = {str(row.id) for row in poison.values()}
    good = usage_event(user_id)
    await add_events(sessions, [good])

    await eventually(lambda: _requests_are(db_events, user_id, 1), "the good event")
    await eventually(lambda: queue_drained(EVENTS_QUEUE), "the events queue to drain")
    found: set[str] = set()

    async def all_dead_lettered() -> bool:
        found.update(await _dead_letter_ids(broker_url, wanted - found))
        return found == wanted

    await eventually(all_dead_lettered, "every poison message in the dead-letter queue")
    dead_lines = [line for line in worker.output().splitlines() if "dead-lettering" in line]
    for reason, row in poison.items():
        logged = [line for line in dead_lines if str(row.id) in line]
        assert len(logged) == (0 if reason == "no such event type" else 1), (reason, dead_lines)
    assert worker.process.poll() is None


async def _requests_are(db: psycopg.AsyncConnection, user_id: uuid.UUID, expected: int) -> bool:
    return await requests_of(db, user_id) == expected


async def test_a_message_that_is_not_json_is_dead_lettered(worker: Worker, broker_url: str) -> None:
    """Bytes no relay would send, as a broken publisher might: dead-lettered, not dropped."""
    task_id = str(uuid.uuid4())
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                b'[[{"event_id": ',
                headers={"task": USAGE_EVENT_TASK, "id": task_id},
                content_type="application/json",
                content_encoding="utf-8",
            ),
            routing_key=EVENTS_ROUTING_KEY,
        )
    found: set[str] = set()

    async def dead_lettered() -> bool:
        found.update(await _dead_letter_ids(broker_url, {task_id}))
        return task_id in found

    await eventually(dead_lettered, "the undecodable message in the dead-letter queue")
    assert any(
        "dead-lettering" in line and task_id in line for line in worker.output().splitlines()
    )
    assert worker.process.poll() is None

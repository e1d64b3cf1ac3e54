"""Publishing outbox rows to RabbitMQ as Celery task messages, with publisher confirms.

Why aio-pika and hand-built Celery messages rather than Celery's `send_task`: the relay lives
in the asyncio api, and aio-pika publishes a whole batch on a confirming channel and awaits the
confirms together (about one round trip per batch; kombu's `confirm_publish` waits on every
message). It also keeps Celery out of the api. Each message is a Celery protocol-2 task message
(`task` and `id` headers, body `[[payload], {}, {...}]`) so the worker consumes it as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pamqp.commands import Basic

from minichat import tracing
from minichat.contracts.events import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    EVENTS_EXCHANGE,
    EVENTS_ROUTING_KEY,
    TASK_BY_EVENT_TYPE,
    TOPOLOGY,
)
from minichat_api.outbox.rows import OutboxRow

logger = logging.getLogger(__name__)

TRACER = tracing.tracer("minichat.outbox")
_TRACEPARENT = re.compile(r'"traceparent":\s*"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"')
_BODY_TAIL = ',{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]'


def task_message(
    event_id: uuid.UUID, task: str, payload_json: str, traceparent: str | None = None
) -> aio_pika.Message:
    """One outbox row as a Celery protocol-2 task message: `task(payload)`, task id = event id.

    Only the headers Celery needs: every header costs encoding time on the hot path. The
    payload is the row's JSON text as stored, spliced into the body without a decode.
    `traceparent`: the publish span's, for the worker's span to be its child.
    """
    task_id = str(event_id)
    headers: dict[str, str | int] = {"task": task, "id": task_id, "root_id": task_id, "retries": 0}
    if traceparent is not None:
        headers["traceparent"] = traceparent
    return aio_pika.Message(
        ("[[" + payload_json + "]" + _BODY_TAIL).encode(),
        headers=headers,  # type: ignore[arg-type]
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        correlation_id=task_id,
    )


class AmqpPublisher:
    """One confirming channel to the broker, opened on first use and again after a failure."""

    def __init__(self, broker_url: str, *, publish_timeout: float = 30.0) -> None:
        self.broker_url = broker_url
        self.publish_timeout = publish_timeout
        self._connection: AbstractConnection | None = None
        self._exchanges: tuple[AbstractExchange, AbstractExchange] | None = None

    async def publish(self, rows: Sequence[OutboxRow]) -> list[BaseException | None]:
        events, dead_letters = await self._connect()
        return list(
            await asyncio.gather(
                *(self._publish(events, dead_letters, row) for row in rows),
                return_exceptions=True,
            )
        )

    async def _publish(
        self, events: AbstractExchange, dead_letters: AbstractExchange, row: OutboxRow
    ) -> BaseException | None:
        task = TASK_BY_EVENT_TYPE.get(row.event_type)
        if task is None:
            # No task would take it: straight to the dead letters, where people can look.
            logger.error(
                "outbox row %s has unknown event_type %r; dead-lettered", row.id, row.event_type
            )
            exchange, routing_key = dead_letters, DEAD_LETTER_QUEUE
            task = f"minichat.{row.event_type}"
        else:
            exchange, routing_key = events, EVENTS_ROUTING_KEY
        if not tracing.enabled():
            return await self._send(exchange, routing_key, task_message(row.id, task, row.payload))
        with publish_span(row) as span:
            message = task_message(row.id, task, row.payload, tracing.traceparent(span))
            failure = await self._send(exchange, routing_key, message)
            if failure is not None:
                span.set_status(Status(StatusCode.ERROR, str(failure)))
            return failure

    async def _send(
        self, exchange: AbstractExchange, routing_key: str, message: aio_pika.Message
    ) -> BaseException | None:
        confirmation = await exchange.publish(
            message, routing_key, mandatory=True, timeout=self.publish_timeout
        )
        if not isinstance(confirmation, Basic.Ack):
            event = message.correlation_id
            return RuntimeError(f"broker did not confirm event {event}: {confirmation!r}")
        return None

    async def _connect(self) -> tuple[AbstractExchange, AbstractExchange]:
        if self._connection is not None and self._exchanges is not None:
            if not self._connection.is_closed:
                return self._exchanges
            await self.close()
        connection = await aio_pika.connect(self.broker_url, timeout=10)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            self._exchanges = await declare_topology(channel)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        logger.info("outbox relay connected to the broker")
        return self._exchanges

    async def close(self) -> None:
        connection, self._connection, self._exchanges = self._connection, None, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=5)


def publish_span(row: OutboxRow) -> AbstractContextManager[Span]:
    """A producer span in the trace of the change that wrote the row (its event's
    `traceparent`, read from the stored JSON without decoding all of it)."""
    found = _TRACEPARENT.search(row.payload)
    return TRACER.start_as_current_span(
        f"outbox.publish {row.event_type}",
        context=tracing.context_from(found.group(1) if found else None),
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "rabbitmq", "messaging.message.id": str(row.id)},
    )


async def declare_topology(channel: AbstractChannel) -> tuple[AbstractExchange, AbstractExchange]:
    """The core's TOPOLOGY, as the worker declares it too; the events and dead-letter
    exchanges."""
    exchanges: dict[str, AbstractExchange] = {}
    for bound in TOPOLOGY:
        exchange = await channel.declare_exchange(
            bound.exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        queue = await channel.declare_queue(
            bound.queue, durable=True, arguments=dict(bound.arguments)
        )
        await queue.bind(exchange, bound.routing_key)
        exchanges[bound.exchange] = exchange
    return exchanges[EVENTS_EXCHANGE], exchanges[DEAD_LETTER_EXCHANGE]

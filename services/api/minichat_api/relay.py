"""The outbox relay: publishes committed outbox rows to RabbitMQ and marks them sent on confirm.

Several relays (one per api replica, or `minichat relay`) share the table: each claims a batch
with `SELECT ... FOR UPDATE SKIP LOCKED`, publishes it, and marks the rows sent in the same
transaction once the broker has confirmed them. A crash between confirm and commit republishes
the batch later; the worker applies each event id once, so that costs nothing but a duplicate.

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
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from pamqp.commands import Basic
from prometheus_client import Counter, Gauge
from sqlalchemy import ARRAY, Text, Uuid, any_, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from minichat.contracts.events import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    EVENTS_EXCHANGE,
    EVENTS_QUEUE,
    EVENTS_QUEUE_ARGUMENTS,
    EVENTS_ROUTING_KEY,
    TASK_BY_EVENT_TYPE,
)
from minichat.db.models import OutboxEvent

logger = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge("minichat_outbox_backlog", "Outbox rows not yet confirmed by the broker.")
OUTBOX_OLDEST_AGE = Gauge(
    "minichat_outbox_oldest_age_seconds", "Age of the oldest unsent outbox row (0 when none)."
)
OUTBOX_PUBLISHED = Counter(
    "minichat_outbox_published_total", "Outbox rows this process published and saw confirmed."
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "minichat_outbox_publish_failures_total", "Relay rounds that failed (broker or database)."
)

METRICS_REFRESH_SECONDS = 1.0


_BODY_TAIL = ',{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]'


def task_message(event_id: uuid.UUID, task: str, payload_json: str) -> aio_pika.Message:
    """One outbox row as a Celery protocol-2 task message: `task(payload)`, task id = event id.

    Only the headers Celery needs: every header costs encoding time on the hot path. The
    payload is the row's JSON text as stored, spliced into the body without a decode.
    """
    task_id = str(event_id)
    return aio_pika.Message(
        ("[[" + payload_json + "]" + _BODY_TAIL).encode(),
        headers={"task": task, "id": task_id, "root_id": task_id, "retries": 0},
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        correlation_id=task_id,
    )


class OutboxRelay:
    """Moves outbox rows to the broker until stopped; broker or database outages only delay."""

    def __init__(
        self,
        engine: AsyncEngine,
        broker_url: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        max_backoff: float = 10.0,
        publish_timeout: float = 30.0,
    ) -> None:
        self.engine = engine
        self.broker_url = broker_url
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.publish_timeout = publish_timeout
        self._connection: AbstractConnection | None = None
        self._exchanges: tuple[AbstractExchange, AbstractExchange] | None = None
        self._task: asyncio.Task[None] | None = None
        self._metrics_at = 0.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    async def run(self) -> None:
        """Relay forever: a full batch goes straight on, an empty one waits `poll_interval`."""
        backoff = self.poll_interval
        while True:
            await self._refresh_metrics()
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Anything at all: the api must keep serving, and the rows stay in the outbox.
                OUTBOX_PUBLISH_FAILURES.inc()
                logger.warning("outbox relay: %s; retrying in %.1fs", _describe(exc), backoff)
                await self._disconnect()
                await asyncio.sleep(backoff)
                backoff = min(self.max_backoff, max(backoff * 2, 0.1))
                continue
            backoff = self.poll_interval
            if sent < self.batch_size:
                await asyncio.sleep(self.poll_interval)

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; the number confirmed and marked sent."""
        events, dead_letters = await self._connect()
        failure: BaseException | None = None
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(OutboxEvent.id, OutboxEvent.event_type, cast(OutboxEvent.payload, Text))
                    .where(OutboxEvent.sent_at.is_(None))
                    .order_by(OutboxEvent.created_at)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(self._publish(events, dead_letters, r[0], r[1], r[2]) for r in rows),
                return_exceptions=True,
            )
            confirmed = [row[0] for row, result in zip(rows, results, strict=True) if not result]
            refused = [row[0] for row, result in zip(rows, results, strict=True) if result]
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            await self._mark(connection, confirmed, sent=True)
            await self._mark(connection, refused, sent=False)
        OUTBOX_PUBLISHED.inc(len(confirmed))
        if failure is not None:
            raise failure
        return len(confirmed)

    async def _publish(
        self,
        events: AbstractExchange,
        dead_letters: AbstractExchange,
        event_id: uuid.UUID,
        event_type: str,
        payload: str,
    ) -> BaseException | None:
        task = TASK_BY_EVENT_TYPE.get(event_type)
        if task is None:
            # No task would take it: straight to the dead letters, where people can look.
            logger.error(
                "outbox row %s has unknown event_type %r; dead-lettered", event_id, event_type
            )
            exchange, routing_key = dead_letters, DEAD_LETTER_QUEUE
            task = f"minichat.{event_type}"
        else:
            exchange, routing_key = events, EVENTS_ROUTING_KEY
        confirmation = await exchange.publish(
            task_message(event_id, task, payload),
            routing_key,
            mandatory=True,
            timeout=self.publish_timeout,
        )
        if not isinstance(confirmation, Basic.Ack):
            return RuntimeError(f"broker did not confirm event {event_id}: {confirmation!r}")
        return None

    @staticmethod
    async def _mark(connection: Any, ids: Sequence[uuid.UUID], *, sent: bool) -> None:
        if not ids:
            return
        values: dict[str, Any] = {"attempts": OutboxEvent.attempts + 1}
        if sent:
            values["sent_at"] = func.now()
        # One array parameter, not one bind parameter per id.
        await connection.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == any_(cast(list(ids), ARRAY(Uuid))))
            .values(**values)
        )

    async def _connect(self) -> tuple[AbstractExchange, AbstractExchange]:
        if self._connection is not None and self._exchanges is not None:
            if not self._connection.is_closed:
                return self._exchanges
            await self._disconnect()
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

    async def _disconnect(self) -> None:
        connection, self._connection, self._exchanges = self._connection, None, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=5)

    async def _refresh_metrics(self) -> None:
        now = time.monotonic()
        if now - self._metrics_at < METRICS_REFRESH_SECONDS:
            return
        self._metrics_at = now
        try:
            async with self.engine.connect() as connection:
                count, oldest = (
                    await connection.execute(
                        select(func.count(), func.min(OutboxEvent.created_at)).where(
                            OutboxEvent.sent_at.is_(None)
                        )
                    )
                ).one()
        except Exception as exc:
            logger.warning("outbox relay: cannot measure the backlog: %s", _describe(exc))
            return
        OUTBOX_BACKLOG.set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.set(max(0.0, age))


async def declare_topology(channel: AbstractChannel) -> tuple[AbstractExchange, AbstractExchange]:
    """The events exchange and queue and their dead letters, exactly as the worker declares them."""
    dead_letters = await channel.declare_exchange(
        DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead_queue = await channel.declare_queue(DEAD_LETTER_QUEUE, durable=True)
    await dead_queue.bind(dead_letters, DEAD_LETTER_QUEUE)
    events = await channel.declare_exchange(
        EVENTS_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
    )
    queue = await channel.declare_queue(
        EVENTS_QUEUE, durable=True, arguments=dict(EVENTS_QUEUE_ARGUMENTS)
    )
    await queue.bind(events, EVENTS_ROUTING_KEY)
    return events, dead_letters


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

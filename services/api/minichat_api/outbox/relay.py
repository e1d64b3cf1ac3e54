"""The outbox relay: hands committed outbox rows to a publisher and marks them sent once delivered.

Several relays (one per api replica, or `minichat relay`) share the table: each claims a batch
with `SELECT ... FOR UPDATE SKIP LOCKED`, publishes it, and marks the rows sent in the same
transaction once the publisher has delivered them (RabbitMQ confirms, see outbox.amqp; or,
in the all-in-one mode, the in-process worker applied them). A crash between delivery and
commit delivers the batch again later; events are applied once per id, so that costs nothing
but a duplicate. Sent rows are kept for `retention` (to look into), then deleted in batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import ARRAY, Text, Uuid, any_, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from minichat.db.models import OutboxEvent
from minichat.db.pruning import PRUNE_BATCH, prune_batch
from minichat_api.background import cancel_and_wait
from minichat_api.outbox.amqp import AmqpPublisher
from minichat_api.outbox.rows import OutboxRow, Publisher

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
OUTBOX_PRUNED = Counter(
    "minichat_outbox_pruned_total", "Sent outbox rows deleted after their retention period."
)

METRICS_REFRESH_SECONDS = 1.0
# How often sent rows past their retention are looked for.
PRUNE_INTERVAL_SECONDS = 60.0


class OutboxRelay:
    """Moves outbox rows to the broker until stopped; broker or database outages only delay."""

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher | str,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        max_backoff: float = 10.0,
        publish_timeout: float = 30.0,
        retention: timedelta = timedelta(hours=24),
    ) -> None:
        """`publisher`: a broker URL (RabbitMQ), or any `Publisher`; `retention`: how long
        sent rows are kept."""
        self.engine = engine
        self.publisher = (
            AmqpPublisher(publisher, publish_timeout=publish_timeout)
            if isinstance(publisher, str)
            else publisher
        )
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.retention = retention
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics_at = 0.0

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.run(), name="outbox-relay"),
            asyncio.create_task(self._prune_forever(), name="outbox-pruner"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self.publisher.close()

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
                await self.publisher.close()
                await asyncio.sleep(backoff)
                backoff = min(self.max_backoff, max(backoff * 2, 0.1))
                continue
            backoff = self.poll_interval
            if sent < self.batch_size:
                await asyncio.sleep(self.poll_interval)

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; the number delivered and marked sent."""
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
            results = await self.publisher.publish([OutboxRow(r[0], r[1], r[2]) for r in rows])
            confirmed = [row[0] for row, result in zip(rows, results, strict=True) if not result]
            refused = [row[0] for row, result in zip(rows, results, strict=True) if result]
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            await self._mark(connection, confirmed, sent=True)
            await self._mark(connection, refused, sent=False)
        OUTBOX_PUBLISHED.inc(len(confirmed))
        if failure is not None:
            raise failure
        return len(confirmed)

    async def prune_sent(self, before: datetime | None = None) -> int:
        """Delete the rows sent before `before` (default: the retention period ago), a batch
        per transaction; how many."""
        before = before or datetime.now(UTC) - self.retention
        statement = prune_batch(OutboxEvent, OutboxEvent.id, OutboxEvent.sent_at, before)
        pruned = 0
        while True:
            async with self.engine.begin() as connection:
                deleted = (await connection.execute(statement)).rowcount
            pruned += deleted
            OUTBOX_PRUNED.inc(deleted)
            if deleted < PRUNE_BATCH:
                return pruned

    async def _prune_forever(self) -> None:
        while True:
            try:
                await self.prune_sent()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round tries again
                logger.warning("outbox relay: cannot prune sent rows: %s", _describe(exc))
            await asyncio.sleep(PRUNE_INTERVAL_SECONDS)

    @staticmethod
    async def _mark(connection: AsyncConnection, ids: Sequence[uuid.UUID], *, sent: bool) -> None:
        if not ids:
            return
        values: dict[str, Any] = {"attempts": OutboxEvent.attempts + 1}
        if sent:
            values["sent_at"] = func.now()
        if connection.dialect.name == "postgresql":
            # One array parameter, not one bind parameter per id.
            matches = OutboxEvent.id == any_(cast(list(ids), ARRAY(Uuid)))
        else:
            matches = OutboxEvent.id.in_(ids)
        await connection.execute(update(OutboxEvent).where(matches).values(**values))

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


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

"""A broker outage delays events, never loses them: rows wait in the outbox, then drain."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import psycopg
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from minichat.contracts.events import EVENTS_QUEUE
from minichat.statuses import GenerationStatus
from tests.conftest import BROKER_VHOST
from tests.eventually import eventually
from tests.integration.events.conftest import (
    Worker,
    add_events,
    queue_drained,
    requests_of,
    running_relay,
    usage_event,
)
from tests.processes import free_port


class TcpProxy:
    """A loopback TCP forwarder to RabbitMQ that the test can pull out and plug back in."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for pipe in list(self.pipes):
            pipe.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)
        await self.server.wait_closed()
        self.server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink, (writer, upstream_writer)))
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    @staticmethod
    async def _pipe(
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        both: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for end in both:
                end.close()
                with contextlib.suppress(Exception):
                    await end.wait_closed()


def _failures() -> float:
    return REGISTRY.get_sample_value("minichat_outbox_publish_failures_total") or 0.0


async def _unsent(db: psycopg.AsyncConnection, user_id: uuid.UUID) -> int:
    cursor = await db.execute(
        "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND payload->>'user_id' = %s",
        (str(user_id),),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_events_wait_out_a_broker_outage_and_arrive_exactly(
    worker: Worker,  # noqa: ARG001 - applies the events
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    db_events: psycopg.AsyncConnection,
    broker_url: str,
) -> None:
    proxy = TcpProxy(5672)
    await proxy.start()
    proxied_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/{BROKER_VHOST}"
    user_id = uuid.uuid4()
    before = [usage_event(user_id, prompt_tokens=i) for i in range(50)]
    during = [
        usage_event(user_id, prompt_tokens=i, status=GenerationStatus.FAILED, ttft_ms=None)
        for i in range(200)
    ]
    try:
        async with running_relay(engine, proxied_url):
            await add_events(sessions, before)
            await eventually(lambda: _requests_are(db_events, user_id, 50), "events before")

            await proxy.stop()
            failures = _failures()
            await add_events(sessions, during)
            await eventually(
                lambda: _gt(_failures(), failures + 3), "the relay to fail a few times"
            )
            assert await _unsent(db_events, user_id) == 200
            await eventually(
                lambda: _gauge_is("minichat_outbox_backlog", 200), "the backlog gauge to show it"
            )
            oldest = REGISTRY.get_sample_value("minichat_outbox_oldest_age_seconds")
            assert oldest is not None and oldest > 0

            await proxy.start()
            await eventually(lambda: _requests_are(db_events, user_id, 250), "events after")
            await eventually(lambda: queue_drained(EVENTS_QUEUE), "the queue to drain")
            await eventually(
                lambda: _gauge_is("minichat_outbox_backlog", 0), "the backlog gauge to empty"
            )
    finally:
        if proxy.server is not None:
            await proxy.stop()

    cursor = await db_events.execute(
        "SELECT requests, prompt_tokens, completion_tokens, succeeded, failed, ttft_count, "
        "ttft_ms_sum, duration_ms_sum FROM usage_daily WHERE user_id = %s",
        (user_id,),
    )
    expected = (
        250,
        sum(e.prompt_tokens for e in before + during),
        sum(e.completion_tokens for e in before + during),
        50,
        200,
        50,
        sum(e.ttft_ms or 0 for e in before),
        sum(e.duration_ms for e in before + during),
    )
    assert await cursor.fetchall() == [expected]
    assert broker_url.endswith(BROKER_VHOST)


async def _requests_are(db: psycopg.AsyncConnection, user_id: uuid.UUID, expected: int) -> bool:
    return await requests_of(db, user_id) == expected


async def _gt(value: float, bound: float) -> bool:
    return value > bound


async def _gauge_is(name: str, expected: float) -> bool:
    return REGISTRY.get_sample_value(name) == expected

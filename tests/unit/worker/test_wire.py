"""The pieces of the event pipeline that need no server: message shape, days, backoff, ranges."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from minichat.contracts.events import TASK_BY_EVENT_TYPE, USAGE_EVENT_TASK, UsageEvent
from minichat.errors import InvalidInput
from minichat_api.outbox.amqp import task_message
from minichat_api.usecases.usage import DEFAULT_DAYS, day_range
from minichat_worker.aggregates import sync_database_url, utc_day
from minichat_worker.outcomes import RETRY_MAX_SECONDS, retry_delay


def test_an_outbox_row_becomes_a_celery_protocol_2_task_message() -> None:
    event = UsageEvent(
        user_id=uuid.uuid4(),
        chat_id=uuid.uuid4(),
        generation_id=uuid.uuid4(),
        model="m",
        status="succeeded",
        prompt_tokens=1,
        completion_tokens=2,
        duration_ms=3,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    payload = event.model_dump_json()
    message = task_message(event.event_id, TASK_BY_EVENT_TYPE["usage_event"], payload)
    assert message.headers["task"] == USAGE_EVENT_TASK
    assert message.headers["id"] == str(event.event_id)
    assert message.content_type == "application/json"
    assert message.delivery_mode == 2
    args, kwargs, embed = json.loads(message.body)
    assert UsageEvent.model_validate(args[0]) == event
    assert kwargs == {}
    assert set(embed) == {"callbacks", "errbacks", "chain", "chord"}


def test_the_day_of_an_event_is_its_utc_day() -> None:
    late_in_new_york = datetime(2026, 3, 1, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert utc_day(late_in_new_york) == date(2026, 3, 2)
    assert utc_day(datetime(2026, 3, 1, 23, 59, 59)) == date(2026, 3, 1)
    assert utc_day(datetime(2026, 3, 1, 0, 0, tzinfo=UTC)) == date(2026, 3, 1)


def test_the_event_store_reaches_sqlite_through_the_sync_driver() -> None:
    assert (
        sync_database_url("sqlite+aiosqlite:////data/minichat.db") == "sqlite:////data/minichat.db"
    )
    assert sync_database_url("sqlite:///relative.db") == "sqlite:///relative.db"
    postgres = "postgresql+psycopg://user:p%40ss@db:5432/minichat"
    assert sync_database_url(postgres) == postgres


def test_database_retries_back_off_to_a_ceiling() -> None:
    delays = [retry_delay(n) for n in range(12)]
    assert delays[:4] == [1, 2, 4, 8]
    assert delays == sorted(delays)
    assert max(delays) == RETRY_MAX_SECONDS
    assert retry_delay(10_000) == RETRY_MAX_SECONDS


def test_usage_ranges_default_to_the_last_days() -> None:
    today = date(2026, 5, 31)
    assert day_range(None, None, today=today) == (today - timedelta(DEFAULT_DAYS - 1), today)
    assert day_range(date(2026, 5, 1), None, today=today) == (date(2026, 5, 1), today)
    assert day_range(None, date(2026, 1, 30), today=today) == (date(2026, 1, 1), date(2026, 1, 30))
    assert day_range(date(2026, 7, 1), None, today=today) == (date(2026, 7, 1), date(2026, 7, 1))
    # Near year 1 the default start is the calendar's first day, not an overflow.
    assert day_range(None, date(1, 1, 5), today=today) == (date.min, date(1, 1, 5))


def test_a_reversed_range_names_from() -> None:
    with pytest.raises(InvalidInput) as caught:
        day_range(date(2026, 5, 2), date(2026, 5, 1))
    assert caught.value.field == "from"

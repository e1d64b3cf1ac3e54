"""GET /api/usage: the caller's aggregates, owner-scoped, by day; and one generation end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg
import pytest

from minichat_api.settings import ApiSettings
from tests.eventually import eventually
from tests.factories import create_chat, post_message, register
from tests.integration.events.conftest import Worker
from tests.integration.generations.conftest import running_api, scripted_env
from tests.processes import Service, serve

TOKENS = 12


async def _add_usage(
    db: psycopg.AsyncConnection, user_id: str, day: date, model: str, requests: int
) -> None:
    await db.execute(
        "INSERT INTO usage_daily (user_id, day, model, requests, prompt_tokens, "
        "completion_tokens, succeeded, failed, canceled, ttft_ms_sum, ttft_count, "
        "duration_ms_sum) VALUES (%s, %s, %s, %s, %s, %s, %s, 1, 0, 0, 0, 0)",
        (user_id, day, model, requests, requests * 10, requests * 20, requests - 1),
    )


async def test_usage_is_the_callers_own_by_day_and_model(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    me, other = await register(client), await register(client)
    today = datetime.now(UTC).date()
    await _add_usage(db, me.user["id"], today, "b-model", 3)
    await _add_usage(db, me.user["id"], today, "a-model", 2)
    await _add_usage(db, me.user["id"], today - timedelta(days=40), "a-model", 5)
    await _add_usage(db, other.user["id"], today, "a-model", 7)

    response = await client.get("/api/usage", headers=me.headers)
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "day": today.isoformat(),
                "model": model,
                "requests": n,
                "prompt_tokens": n * 10,
                "completion_tokens": n * 20,
                "succeeded": n - 1,
                "failed": 1,
                "canceled": 0,
            }
            for model, n in (("a-model", 2), ("b-model", 3))
        ]
    }
    old = today - timedelta(days=40)
    ranged = await client.get(
        "/api/usage", params={"from": old.isoformat(), "to": old.isoformat()}, headers=me.headers
    )
    assert [(i["day"], i["requests"]) for i in ranged.json()["items"]] == [(old.isoformat(), 5)]
    theirs = await client.get("/api/usage", headers=other.headers)
    assert [i["requests"] for i in theirs.json()["items"]] == [7]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"from": "2024-13-01"}, 422, "from"),
        ({"to": "yesterday"}, 422, "to"),
        ({"from": "2024-02-30"}, 422, "from"),
        ({"from": "2024-05-02", "to": "2024-05-01"}, 400, "from"),
    ],
)
async def test_bad_ranges_name_the_field(
    client: httpx.AsyncClient, params: dict[str, str], status: int, field: str
) -> None:
    account = await register(client)
    response = await client.get("/api/usage", params=params, headers=account.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


async def test_usage_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/usage")).status_code == 401


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with serve(["inference"], scripted_env(TOKENS, 1), tmp_path_factory.mktemp("usage")) as s:
        yield s


async def test_a_generation_shows_up_in_usage(
    settings: ApiSettings,
    events_database_url: str,
    inference: Service,
    worker: Worker,  # noqa: ARG001 - applies the api's usage event
) -> None:
    # The api's own relay (started in its lifespan) publishes the generation's usage event.
    api_settings = settings.model_copy(
        update={"database_url": events_database_url, "inference_url": inference.url}
    )
    async with running_api(api_settings) as http:
        account = await register(http)
        chat = await create_chat(http, account)
        await post_message(http, account, chat["id"], "count me")
        started = await http.post(f"/api/chats/{chat['id']}/generations", headers=account.headers)
        assert started.status_code == 202, started.text
        generation_url = f"/api/generations/{started.json()['id']}"

        async def finished() -> bool:
            response = await http.get(generation_url, headers=account.headers)
            return bool(response.json()["status"] == "succeeded")

        await eventually(finished, "the generation to succeed", 60)
        usage = (await http.get(generation_url, headers=account.headers)).json()["usage"]

        async def counted() -> bool:
            response = await http.get("/api/usage", headers=account.headers)
            return bool(response.json()["items"])

        await eventually(counted, "the usage event to be applied", 60)
        items = (await http.get("/api/usage", headers=account.headers)).json()["items"]
    assert items == [
        {
            "day": datetime.now(UTC).date().isoformat(),
            "model": started.json()["model"],
            "requests": 1,
            "prompt_tokens": usage["prompt_tokens"],
            "completion_tokens": TOKENS,
            "succeeded": 1,
            "failed": 0,
            "canceled": 0,
        }
    ]

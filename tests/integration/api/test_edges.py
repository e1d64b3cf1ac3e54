"""Inputs at the edges of their ranges: a 4xx naming the field or a correct answer, never a 500,
and never a stream held open until a timer fires."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import httpx
import pytest

from minichat_api.settings import ApiSettings
from minichat_api.streams import entry_key
from tests.factories import Account, create_chat, post_message, register, start_generation
from tests.integration.api.conftest import ended_generation
from tests.integration.generations.conftest import running_api
from tests.processes import Service
from tests.sse import Event, collect, events

# Longer than any of these requests takes, far shorter than a stream's retention or ping.
QUICK = httpx.Timeout(5.0)
INT64_MAX = 2**63 - 1


def _cursor(*key: object) -> str:
    raw = json.dumps(list(key)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refused(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert error["message"]


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    account = await register(client)
    for title in ("first", "second"):
        chat = await create_chat(client, account, title)
        await post_message(client, account, chat["id"], f"in {title}")
    return account


@pytest.mark.parametrize(
    ("updated_at", "titles"),
    [
        ("0001-01-01T00:00:00+00:00", []),
        ("0001-01-01T00:00:00", []),
        ("0001-01-01T00:00:00+14:00", []),  # before year 1 in UTC
        ("0001-01-01T00:00:00-14:00", []),
        ("9999-12-31T23:59:59.999999+00:00", ["second", "first"]),
        ("9999-12-31T23:59:59.999999-14:00", ["second", "first"]),  # after 9999 in UTC
        ("9999-12-31T23:59:59.999999", ["second", "first"]),
    ],
)
async def test_chat_cursor_dates_at_the_ends_of_time(
    client: httpx.AsyncClient, account: Account, updated_at: str, titles: list[str]
) -> None:
    cursor = _cursor(updated_at, str(uuid.uuid4()))
    response = await client.get("/api/chats", params={"cursor": cursor}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert [c["title"] for c in response.json()["items"]] == titles


@pytest.mark.parametrize(
    "key",
    [
        ["10000-01-01T00:00:00+00:00", str(uuid.uuid4())],
        ["-0001-01-01T00:00:00+00:00", str(uuid.uuid4())],
        ["2024-01-01T00:00:00+24:00", str(uuid.uuid4())],
        ["2024-01-01T00:00:00+00:00", "not-a-uuid"],
        ["2024-01-01T00:00:00+00:00", str(uuid.uuid4()) + "0"],
        ["2024-01-01T00:00:00+00:00", 2**64],
        [INT64_MAX, str(uuid.uuid4())],
        [1e308, str(uuid.uuid4())],
        [None, None],
    ],
)
async def test_chat_cursors_out_of_range_are_400(
    client: httpx.AsyncClient, account: Account, key: list[object]
) -> None:
    response = await client.get(
        "/api/chats", params={"cursor": _cursor(*key)}, headers=account.headers
    )
    _refused(response, 400, "cursor")


@pytest.mark.parametrize("seq", [-1, 2**31, INT64_MAX, INT64_MAX + 1, 2**64, 1e308, "1", True])
async def test_message_cursors_past_the_sequence_range_are_400(
    client: httpx.AsyncClient, account: Account, seq: object
) -> None:
    chats = (await client.get("/api/chats", headers=account.headers)).json()["items"]
    response = await client.get(
        f"/api/chats/{chats[0]['id']}/messages",
        params={"cursor": _cursor(seq)},
        headers=account.headers,
    )
    _refused(response, 400, "cursor")


async def test_the_largest_sequence_number_is_a_correct_empty_page(
    client: httpx.AsyncClient, account: Account
) -> None:
    chats = (await client.get("/api/chats", headers=account.headers)).json()["items"]
    response = await client.get(
        f"/api/chats/{chats[0]['id']}/messages",
        params={"cursor": _cursor(2**31 - 1)},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "limit", [str(INT64_MAX), str(INT64_MAX + 1), str(2**64), str(-(2**63)), "0", "1e3", "NaN"]
)
@pytest.mark.parametrize("path", ["/api/chats", "/api/chats/{chat_id}/messages"])
async def test_limits_past_int64_are_422_naming_limit(
    client: httpx.AsyncClient, account: Account, path: str, limit: str
) -> None:
    chats = (await client.get("/api/chats", headers=account.headers)).json()["items"]
    response = await client.get(
        path.format(chat_id=chats[0]["id"]), params={"limit": limit}, headers=account.headers
    )
    _refused(response, 422, "limit")


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"from": "0001-01-01"}, 200, None),
        ({"to": "9999-12-31"}, 200, None),
        ({"from": "0001-01-01", "to": "9999-12-31"}, 200, None),
        ({"from": "9999-12-31"}, 200, None),
        ({"from": "9999-12-31", "to": "9999-12-31"}, 200, None),
        ({"from": "0001-01-01", "to": "0001-01-01"}, 200, None),
        ({"to": "0001-01-01"}, 200, None),  # its default start would be before year 1
        ({"to": "0001-01-29"}, 200, None),
        ({"from": "10000-01-01"}, 422, "from"),
        ({"to": "0000-12-31"}, 422, "to"),
        ({"from": "9999-12-31", "to": "0001-01-01"}, 400, "from"),
        ({"from": str(2**64)}, 422, "from"),
    ],
)
async def test_usage_ranges_at_the_ends_of_the_calendar(
    client: httpx.AsyncClient,
    account: Account,
    params: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    response = await client.get("/api/usage", params=params, headers=account.headers)
    if field is None:
        assert response.status_code == status, response.text
        assert response.json() == {"items": []}
    else:
        _refused(response, status, field)


@pytest.mark.parametrize(
    "chat_id",
    [
        "00000000-0000-0000-0000-000000000000",  # nil
        "ffffffff-ffff-ffff-ffff-ffffffffffff",  # max
        str(uuid.uuid1()),
        str(uuid.uuid3(uuid.NAMESPACE_DNS, "minichat")),
        str(uuid.uuid5(uuid.NAMESPACE_DNS, "minichat")),
        uuid.uuid4().hex,
        "{" + str(uuid.uuid4()) + "}",
        "urn:uuid:" + str(uuid.uuid4()),
    ],
)
async def test_ids_of_other_versions_are_simply_not_found(
    client: httpx.AsyncClient, account: Account, chat_id: str
) -> None:
    response = await client.get(f"/api/chats/{chat_id}", headers=account.headers)
    assert response.status_code in {404, 422}, response.text
    if response.status_code == 422:
        assert response.json()["error"]["field"] == "chat_id"
    else:
        assert response.json()["error"]["code"] == "chat_not_found"


@pytest.mark.parametrize(
    "bad_id",
    [
        str(uuid.uuid4())[:-1],
        str(uuid.uuid4()) + "0",
        str(uuid.uuid4()).replace("-", "_"),
        "g" * 32,
        str(2**64),
        "%00",
        "x" * 2000,
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/api/chats/{}", "chat_id"),
        ("GET", "/api/chats/{}/messages", "chat_id"),
        ("POST", "/api/chats/{}/generations", "chat_id"),
        ("GET", "/api/generations/{}", "generation_id"),
        ("GET", "/api/generations/{}/stream", "generation_id"),
        ("POST", "/api/generations/{}/cancel", "generation_id"),
    ],
)
async def test_malformed_ids_are_422_naming_the_field(
    client: httpx.AsyncClient, account: Account, method: str, path: str, field: str, bad_id: str
) -> None:
    response = await client.request(
        method, path.format(bad_id), headers=account.headers, timeout=QUICK
    )
    _refused(response, 422, field)


def _bumped(entry_id: str, ms: int = 0, seq: int = 0) -> str:
    millis, _, sequence = entry_id.partition("-")
    return f"{int(millis) + ms}-{int(sequence) + seq}"


async def test_event_ids_past_the_newest_of_an_ended_stream_end_at_once(
    answering: httpx.AsyncClient,
) -> None:
    """A client that claims to have seen more than an ended stream has sent is told there is
    nothing more (204), at once, not kept waiting for a `done` that already went by."""
    account = await register(answering)
    ended = await ended_generation(answering, account)
    url = f"/api/generations/{ended['id']}/stream"
    async with answering.stream("GET", url, headers=account.headers, timeout=QUICK) as response:
        body = (await response.aread()).decode()
    newest = [line[4:] for line in body.splitlines() if line.startswith("id: ")][-1]
    now_ms = int(time.time() * 1000)
    for ahead in (
        newest,
        _bumped(newest, seq=1),
        _bumped(newest, ms=1),
        f"{now_ms}-0",
        f"{now_ms}-{2**64 - 1}",
    ):
        response = await answering.get(
            url, headers={**account.headers, "Last-Event-ID": ahead}, timeout=QUICK
        )
        assert response.status_code == 204, (ahead, response.text)


@pytest.mark.parametrize(
    "last_event_id",
    [
        f"{2**64}-0",
        f"0-{2**64}",
        f"{INT64_MAX + 1}-0",  # a valid Redis id, but far past any clock
        f"{2**64 - 1}-{2**64 - 1}",
        f"{int(time.time() * 1000) + 86_400_000}-0",
        "-1-0",
        "1.5-0",
        "1-2-3",
        "9" * 400,
    ],
)
async def test_event_ids_out_of_range_are_400_naming_the_header(
    answering: httpx.AsyncClient, last_event_id: str
) -> None:
    account = await register(answering)
    ended = await ended_generation(answering, account)
    url = f"/api/generations/{ended['id']}/stream"
    for headers, params, field in (
        ({"Last-Event-ID": last_event_id}, {}, "Last-Event-ID"),
        ({}, {"last_event_id": last_event_id}, "last_event_id"),
    ):
        response = await answering.get(
            url, headers={**account.headers, **headers}, params=params, timeout=QUICK
        )
        _refused(response, 400, field)


async def test_an_event_id_just_ahead_of_a_live_stream_follows_it_to_its_end(
    settings: ApiSettings, slow_model: Service
) -> None:
    """Ahead of the newest entry of a stream still being written is no error (Redis may have
    lost its newest entries): the client gets what comes after it, to the `done`."""
    async with running_api(settings.model_copy(update={"inference_url": slow_model.url})) as http:
        account = await register(http)
        generation = await start_generation(http, account)
        url = f"/api/generations/{generation['id']}/stream"
        seen = await collect(http, url, account.headers, stop_after=3)
        ahead = _bumped(str(seen[-1].id), seq=1)
        headers = {**account.headers, "Last-Event-ID": ahead}
        received: list[Event] = []
        cancel: asyncio.Task[httpx.Response] | None = None
        async with http.stream("GET", url, headers=headers, timeout=QUICK) as response:
            assert response.status_code == 200
            async for event in events(response):
                received.append(event)
                if cancel is None:
                    cancel = asyncio.create_task(
                        http.post(
                            f"/api/generations/{generation['id']}/cancel", headers=account.headers
                        )
                    )
        assert cancel is not None and (await cancel).status_code == 200
        assert received[-1].event == "done"
        assert all(entry_key(str(e.id)) > entry_key(ahead) for e in received)

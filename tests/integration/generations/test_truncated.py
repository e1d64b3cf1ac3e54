"""An answer the token limit cut says so (finish_reason "length" on the generation, its message,
the stream's done and in OpenAPI), and Continue continues that same text to its end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from minichat_api.settings import ApiSettings
from minichat_inference.backends.scripted import scripted_text
from tests.factories import Account, create_chat, post_message, register
from tests.integration.generations.conftest import FAST_TOKENS, running_api
from tests.processes import Service
from tests.sse import Event, collect, text_of

LIMIT = 10


@pytest.fixture(params=["redis", "memory"])
async def limited_client(
    request: pytest.FixtureRequest, settings: ApiSettings, fast_inference: Service
) -> AsyncIterator[httpx.AsyncClient]:
    """An api whose answers stop after LIMIT tokens, on the fast model (FAST_TOKENS words)."""
    update: dict[str, object] = {
        "inference_url": fast_inference.url,
        "generation_max_tokens": LIMIT,
    }
    if request.param == "memory":
        update["redis_url"] = "memory://"
    async with running_api(settings.model_copy(update=update)) as http:
        yield http


async def _answer(
    client: httpx.AsyncClient, account: Account, chat_id: str, body: dict[str, object] | None = None
) -> tuple[dict[str, object], list[Event]]:
    created = await client.post(
        f"/api/chats/{chat_id}/generations", json=body, headers=account.headers
    )
    assert created.status_code == 202, created.text
    generation_id = created.json()["id"]
    events = await collect(client, f"/api/generations/{generation_id}/stream", account.headers)
    stored = await client.get(f"/api/generations/{generation_id}", headers=account.headers)
    return stored.json(), events


async def _last_message(
    client: httpx.AsyncClient, account: Account, chat_id: str
) -> dict[str, object]:
    page = await client.get(f"/api/chats/{chat_id}/messages", headers=account.headers)
    message: dict[str, object] = page.json()["items"][-1]
    return message


async def test_a_cut_answer_says_so_and_continue_finishes_the_same_text(
    limited_client: httpx.AsyncClient,
) -> None:
    client = limited_client
    account = await register(client)
    chat = await create_chat(client, account)
    await post_message(client, account, chat["id"], "Tell me everything")

    cut, events = await _answer(client, account, chat["id"])
    assert events[-1].data == {"status": "succeeded", "finish_reason": "length"}
    assert cut["finish_reason"] == "length"
    assert text_of(events) == scripted_text(LIMIT)
    message = await _last_message(client, account, chat["id"])
    assert (message["finish_reason"], message["status"]) == ("length", "complete")

    # Continued twice: LIMIT more words, then the rest, which ends on its own.
    text = scripted_text(LIMIT)
    for continued_to, reason in ((2 * LIMIT, "length"), (FAST_TOKENS, "stop")):
        body = {"continue_from": cut["assistant_message_id"]}
        cut, events = await _answer(client, account, chat["id"], body)
        # The stream begins with the text it continues, so a reader sees the answer whole.
        assert text_of(events).startswith(text)
        text = scripted_text(continued_to)
        assert text_of(events) == text
        assert cut["finish_reason"] == reason
        message = await _last_message(client, account, chat["id"])
        assert (message["content"], message["finish_reason"]) == (text, reason)
        # Its usage counts only the tokens it added.
        assert 0 < events[-2].data["completion_tokens"] <= LIMIT
    assert events[-1].data == {"status": "succeeded"}


async def test_only_a_cut_answer_to_the_last_message_can_be_continued(
    limited_client: httpx.AsyncClient,
) -> None:
    client = limited_client
    account = await register(client)
    chat = await create_chat(client, account)
    await post_message(client, account, chat["id"], "First")
    earlier, _ = await _answer(client, account, chat["id"])
    await post_message(client, account, chat["id"], "Second")

    refused = await client.post(
        f"/api/chats/{chat['id']}/generations",
        json={"continue_from": earlier["assistant_message_id"]},
        headers=account.headers,
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_continuable"


async def test_an_answer_that_ended_on_its_own_is_not_cut(fast_client: httpx.AsyncClient) -> None:
    account = await register(fast_client)
    chat = await create_chat(fast_client, account)
    await post_message(fast_client, account, chat["id"], "Hello")
    whole, events = await _answer(fast_client, account, chat["id"])
    assert whole["finish_reason"] == "stop"
    assert events[-1].data == {"status": "succeeded"}
    refused = await fast_client.post(
        f"/api/chats/{chat['id']}/generations",
        json={"continue_from": whole["assistant_message_id"]},
        headers=account.headers,
    )
    assert refused.status_code == 409


async def test_openapi_describes_the_finish_reason(fast_client: httpx.AsyncClient) -> None:
    schemas = (await fast_client.get("/api/openapi.json")).json()["components"]["schemas"]
    assert "finish_reason" in schemas["GenerationPublic"]["properties"]
    assert "finish_reason" in schemas["MessagePublic"]["properties"]
    assert "continue_from" in schemas["GenerationCreate"]["properties"]

"""One generation through the real Gemma model: api, Redis, PostgreSQL and `minichat inference`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from minichat_api.settings import ApiSettings
from tests.factories import create_chat, post_message, register
from tests.integration.generations.conftest import running_api
from tests.processes import Service, serve
from tests.sse import collect, text_of

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def embedded_inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    logs = tmp_path_factory.mktemp("embedded-inference")
    # The first start on a new machine assembles and verifies the model file.
    with serve(
        ["inference"],
        # Greedy, so the answer to the question asked is known.
        {"INFERENCE_BACKEND": "embedded", "INFERENCE_TEMPERATURE": "0"},
        logs,
        startup_timeout=900,
    ) as service:
        yield service


async def test_the_real_model_answers_through_the_api(
    settings: ApiSettings, embedded_inference: Service
) -> None:
    wired = settings.model_copy(
        update={"inference_url": embedded_inference.url, "generation_max_tokens": 32}
    )
    async with running_api(wired) as client:
        account = await register(client)
        chat = await create_chat(client, account, "Geography")
        await post_message(client, account, chat["id"], "What is the capital of France?")
        created = await client.post(f"/api/chats/{chat['id']}/generations", headers=account.headers)
        assert created.status_code == 202
        generation_id = created.json()["id"]
        received = await collect(
            client, f"/api/generations/{generation_id}/stream", account.headers
        )
        assert received[-1].data == {"status": "succeeded"}
        answer = text_of(received)
        assert "Paris" in answer
        usage = received[-2].data
        assert usage["prompt_tokens"] > 0
        assert 0 < usage["completion_tokens"] <= 32

        stored = (
            await client.get(f"/api/generations/{generation_id}", headers=account.headers)
        ).json()
        assert stored["status"] == "succeeded"
        assert stored["model"] == (await _served_model(embedded_inference))
        messages = (
            await client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
        ).json()["items"]
        assert messages[-1]["content"] == answer


async def _served_model(service: Service) -> str:
    async with httpx.AsyncClient(base_url=service.url) as http:
        return str((await http.get("/v1/models")).json()["data"][0]["id"])

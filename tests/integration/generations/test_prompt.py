"""What the model is asked: the chat's history, within the budget, ending with the user's message.

The upstream here is a small OpenAI-compatible server that records each request, beside the
tests that stream from the real inference plane: only a recorder can show the prompt sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from minichat_api.settings import ApiSettings
from tests.factories import create_chat, post_message, register
from tests.integration.generations.conftest import running_api
from tests.processes import free_port
from tests.sse import collect, text_of

ANSWER = "recorded"


@asynccontextmanager
async def recording_model() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible streaming endpoint on a loopback port; yields (url, requests)."""
    requests: list[dict[str, Any]] = []

    async def completions(request: web.Request) -> web.StreamResponse:
        requests.append(await request.json())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"id": "r", "created": 0, "model": "recorder"}
        for data in (
            {**chunk, "choices": [{"index": 0, "delta": {"content": ANSWER}}]},
            {
                **chunk,
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            },
        ):
            await response.write(f"data: {json.dumps(data)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", requests
    finally:
        await runner.cleanup()


async def test_the_prompt_is_the_history_up_to_the_users_message_within_the_budget(
    settings: ApiSettings,
) -> None:
    async with recording_model() as (url, requests):
        budget = 100
        configured = settings.model_copy(
            update={
                "inference_url": url,
                "inference_model": "recorder",
                "generation_context_chars": budget,
            }
        )
        async with running_api(configured) as client:
            account = await register(client)
            chat = await create_chat(client, account)
            old = "an early question, " * 4
            await post_message(client, account, chat["id"], old)

            async def answer() -> str:
                created = await client.post(
                    f"/api/chats/{chat['id']}/generations", headers=account.headers
                )
                assert created.status_code == 202, created.text
                path = f"/api/generations/{created.json()['id']}/stream"
                return text_of(await collect(client, path, account.headers))

            assert await answer() == ANSWER
            await post_message(client, account, chat["id"], "and the second question")
            assert await answer() == ANSWER
            # Asked again with no new message: the same question, not its earlier answers.
            assert await answer() == ANSWER
            await post_message(client, account, chat["id"], "x" * 150)
            assert await answer() == ANSWER

    prompts = [[(m["role"], m["content"]) for m in r["messages"]] for r in requests]
    assert prompts[0] == [("user", old)]
    # The old question is over the budget once the newer turns take their share.
    assert prompts[1] == [("assistant", ANSWER), ("user", "and the second question")]
    assert prompts[2] == prompts[1]
    # A message longer than the whole budget is kept, cut to its end, and alone.
    assert prompts[3] == [("user", "x" * budget)]
    assert all(r["model"] == "recorder" and r["stream"] is True for r in requests)

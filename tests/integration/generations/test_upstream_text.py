"""Text from an OpenAI-compatible server that PostgreSQL cannot store: a NUL character, a lone
surrogate. Before, the answer's end failed to commit and its stream never ended.

The server here is a few lines of aiohttp speaking the OpenAI stream, since no model we run
emits these on demand; everything else (api, Redis, PostgreSQL) is real.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from minichat_api.settings import ApiSettings
from tests.factories import register, start_generation
from tests.integration.generations.conftest import running_api
from tests.sse import collect, text_of

PIECES = ["Hel", "lo\x00 wor", "\x00", "ld", " \ud800 é"]
EXPECTED = "Hello world ? é"


def _chunk(content: str | None, finish_reason: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    body = {
        "id": "chatcmpl-nul",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "nul-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


async def _completions(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for piece in PIECES:
        await response.write(_chunk(piece))
    await response.write(_chunk(None, "stop"))
    usage = {"prompt_tokens": 3, "completion_tokens": len(PIECES), "total_tokens": 7}
    await response.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


@asynccontextmanager
async def nul_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_text_the_database_refuses_is_mended_alike_in_stream_and_message(
    settings: ApiSettings,
) -> None:
    async with nul_server() as url:
        configured = settings.model_copy(update={"inference_url": url, "inference_model": "m"})
        async with running_api(configured) as client:
            account = await register(client)
            generation = await start_generation(client, account)
            received = await collect(
                client, f"/api/generations/{generation['id']}/stream", account.headers
            )
            stored = await client.get(
                f"/api/generations/{generation['id']}", headers=account.headers
            )
            messages = await client.get(
                f"/api/chats/{generation['chat_id']}/messages", headers=account.headers
            )
    assert received[-1].data == {"status": "succeeded"}
    assert text_of(received) == EXPECTED
    assert stored.json()["status"] == "succeeded"
    assert messages.json()["items"][-1]["content"] == EXPECTED

"""The wire forms of a generation: the streamed chunks, and an error after the first byte."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from minichat.contracts.inference import ChatCompletionRequest
from minichat.errors import Unavailable
from minichat_inference.backends.base import Event, Finish, Piece
from minichat_inference.generation import collect, sse

REQUEST = ChatCompletionRequest.model_validate(
    {"messages": [{"role": "user", "content": "Hi"}], "stream_options": {"include_usage": True}}
)


async def events(*items: Event | Exception) -> AsyncGenerator[Event, None]:
    for item in items:
        if isinstance(item, Exception):
            raise item
        yield item


async def lines_of(first: Event, rest: AsyncGenerator[Event, None]) -> list[str]:
    body = b"".join([part async for part in sse(REQUEST, "m", first, rest)]).decode()
    return [line[6:] for line in body.split("\n\n") if line.startswith("data: ")]


async def test_chunks_are_valid_openai_json_with_unicode() -> None:
    lines = await lines_of(Piece("Grüß"), events(Piece(' "dich" ✓'), Finish("stop", 3, 2)))
    assert lines[-1] == "[DONE]"
    chunks: list[dict[str, Any]] = [json.loads(line) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Grüß"}
    assert chunks[1]["choices"][0]["delta"] == {"content": ' "dich" ✓'}
    assert chunks[1]["id"] == chunks[0]["id"]
    assert chunks[2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert chunks[3]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


async def test_error_after_the_first_byte_is_an_error_line_and_no_done() -> None:
    failure = Unavailable("upstream went away", code="inference_disconnected")
    lines = await lines_of(Piece("Hel"), events(Piece("lo"), failure))
    assert "[DONE]" not in lines
    error = json.loads(lines[-1])["error"]
    assert error == {
        "message": "upstream went away",
        "type": "server_error",
        "param": None,
        "code": "inference_disconnected",
    }


async def test_collect() -> None:
    completion = await collect("m", Piece("a"), events(Piece("b"), Finish("length", 1, 2)))
    assert completion.choices[0].message.content == "ab"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 3

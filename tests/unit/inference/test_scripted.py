"""The scripted backend: deterministic words, limits, and exact continuation."""

from __future__ import annotations

from typing import Any

from minichat.contracts.inference import ChatCompletionRequest
from minichat_inference.backends.base import Finish, Piece
from minichat_inference.backends.scripted import ScriptedBackend, scripted_text


async def run(backend: ScriptedBackend, max_tokens: int | None, **fields: Any) -> list[Any]:
    request = ChatCompletionRequest.model_validate(
        {"messages": [{"role": "user", "content": "Hi"}], **fields}
    )
    return [event async for event in backend.generate(request, max_tokens)]


async def test_words_then_finish() -> None:
    events = await run(ScriptedBackend(tokens=5, interval_ms=0), None)
    assert "".join(e.text for e in events if isinstance(e, Piece)) == scripted_text(5)
    assert events[-1] == Finish("stop", 2, 5)


async def test_limit() -> None:
    events = await run(ScriptedBackend(tokens=5, interval_ms=0), 2)
    assert events[-1] == Finish("length", 2, 2)


async def test_continuation_yields_the_rest() -> None:
    backend = ScriptedBackend(tokens=6, interval_ms=0)
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": scripted_text(2)},
    ]
    request = ChatCompletionRequest.model_validate(
        {"messages": messages, "continue_final_message": True}
    )
    events = [event async for event in backend.generate(request, None)]
    text = "".join(e.text for e in events if isinstance(e, Piece))
    assert scripted_text(2) + text == scripted_text(6)
    assert backend.decoded_tokens == 4

"""A deterministic backend for tests and benchmarks: fixed words, one per token, at a set rate.

Continuing an assistant message that is a prefix of the script yields exactly the rest of it, so a
resumed generation reads the same as one that never stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from minichat.contracts.inference import ChatCompletionRequest
from minichat_inference.backends.base import Event, Finish, Piece

_TEXT = (
    "This is a scripted reply from MiniChat. It streams one word at a time, always the same "
    "words, so tests and benchmarks can predict every token they receive."
)
SCRIPT = _TEXT.split(" ")
MODEL_ID = "minichat-scripted"


def scripted_word(index: int) -> str:
    word = SCRIPT[index % len(SCRIPT)]
    return word if index == 0 else " " + word


def scripted_text(tokens: int) -> str:
    """The whole answer of `tokens` words, as the backend streams it."""
    return "".join(scripted_word(i) for i in range(tokens))


class ScriptedBackend:
    name = "scripted"

    def __init__(self, tokens: int, interval_ms: float, model_id: str | None = None) -> None:
        self.tokens = tokens
        self.interval_seconds = interval_ms / 1000
        self._model_id = model_id or MODEL_ID
        self._decoded = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def max_parallel(self) -> int | None:
        return None

    @property
    def ready(self) -> bool:
        return True

    @property
    def decoded_tokens(self) -> int:
        return self._decoded

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def generate(
        self, request: ChatCompletionRequest, max_tokens: int | None
    ) -> AsyncGenerator[Event, None]:
        prompt_tokens = sum(len(m.text.split()) + 1 for m in request.messages)
        start = 0
        if request.continue_final_message:
            start = len(request.messages[-1].text.split())
        remaining = max(self.tokens - start, 0)
        count = remaining if max_tokens is None else min(remaining, max_tokens)
        # Paced against the clock, not by sleeping an interval after each token: the sleeps'
        # own overhead would otherwise add up, and benchmarks would count it as lag.
        clock = asyncio.get_running_loop().time
        due = clock()
        for index in range(start, start + count):
            if self.interval_seconds:
                due += self.interval_seconds
                await asyncio.sleep(max(0.0, due - clock()))
            self._decoded += 1
            word = scripted_word(index)
            if request.continue_final_message and not request.messages[-1].text:
                word = word.lstrip()
            yield Piece(word)
        yield Finish("length" if count < remaining else "stop", prompt_tokens, count)

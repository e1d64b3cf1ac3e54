"""What every backend offers: a model id, a lifecycle, and `generate()` streaming text pieces."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from minichat.contracts.inference import ChatCompletionRequest, FinishReason


@dataclass(frozen=True)
class Piece:
    """Newly generated text and how many tokens produced it (0 while a stop string is held back)."""

    text: str
    tokens: int = 1


@dataclass(frozen=True)
class Finish:
    """The last event of a generation."""

    reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


Event = Piece | Finish


class Backend(Protocol):
    """A model runner. `generate()` is an async generator: closing it early (the caller went away)
    must stop the computation within one token."""

    name: str

    @property
    def model_id(self) -> str: ...

    @property
    def max_parallel(self) -> int | None:
        """How many generations it can run at once (None: as many as admission allows)."""
        ...

    @property
    def ready(self) -> bool: ...

    @property
    def decoded_tokens(self) -> int:
        """Tokens computed since start, abandoned ones included: proof that work stopped."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def generate(
        self, request: ChatCompletionRequest, max_tokens: int | None
    ) -> AsyncGenerator[Event, None]:
        """Yield `Piece`s then exactly one `Finish`; raise MiniChat errors for bad input or an
        unavailable model. `max_tokens`: the request's own limit or, when it gave none, the
        plane's default cap (a backend stops sooner where its context ends); None means as many
        as the context allows."""
        ...

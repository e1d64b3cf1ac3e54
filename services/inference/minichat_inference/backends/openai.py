"""A backend that forwards to any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from minichat.contracts.inference import ChatCompletionRequest
from minichat.errors import InvalidInput, Unavailable
from minichat.inference_client import ContentDelta, InferenceClient, StreamEnd
from minichat_inference.backends.base import Event, Finish, Piece


class OpenAIBackend:
    name = "openai"

    def __init__(self, client: InferenceClient, model_id: str | None) -> None:
        self.client = client
        self._model_id = model_id
        self._decoded = 0

    @property
    def model_id(self) -> str:
        return self._model_id or "unknown"

    @property
    def max_parallel(self) -> int | None:
        return None

    @property
    def ready(self) -> bool:
        return self._model_id is not None

    @property
    def decoded_tokens(self) -> int:
        return self._decoded

    async def start(self) -> None:
        if self._model_id is not None:
            return
        # No INFERENCE_MODEL: serve whatever the upstream serves first. If it is down we still
        # start (and are not ready); the next request tries again.
        try:
            await self._discover_model()
        except Unavailable:
            return

    async def _discover_model(self) -> str:
        if self._model_id is None:
            models = await self.client.models()
            if not models.data:
                raise Unavailable("the upstream server lists no models", code="inference_no_model")
            self._model_id = models.data[0].id
        return self._model_id

    async def close(self) -> None:
        await self.client.aclose()

    async def generate(
        self, request: ChatCompletionRequest, max_tokens: int | None
    ) -> AsyncGenerator[Event, None]:
        model = await self._discover_model()
        if request.model is not None and request.model != model:
            raise InvalidInput(
                f"the model {request.model!r} does not exist; this server serves {model!r}",
                field="model",
                code="model_not_found",
            )
        upstream = request.model_copy(
            update={
                "model": model,
                "max_tokens": max_tokens,
                "max_completion_tokens": None,
                "stream": True,
            }
        )
        pieces = 0
        async with aclosing(self.client.stream_chat(upstream)) as events:
            async for event in events:
                if isinstance(event, ContentDelta):
                    pieces += 1
                    self._decoded += 1
                    yield Piece(event.text)
                elif isinstance(event, StreamEnd):
                    # Servers that ignore include_usage leave us the count of chunks, about
                    # one per token.
                    usage = event.usage
                    completion = usage.completion_tokens if usage else pieces
                    prompt = usage.prompt_tokens if usage else 0
                    length = event.finish_reason == "length"
                    yield Finish("length" if length else "stop", prompt, completion)
                    return

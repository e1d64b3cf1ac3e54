"""The embedded backend: Gemma 3 270M (GGUF) run in-process by llama-cpp-python on the CPU.

The model is loaded once per process. Generation runs on one dedicated thread, which both keeps
the event loop free and serialises use of the (not thread-safe) llama context; tokens cross back
to the loop through a queue. Closing the generator sets a flag that the decode loop checks after
every token, so an abandoned request stops within one token.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from minichat.contracts.inference import ChatCompletionRequest
from minichat.errors import InvalidInput, MiniChatError, Unavailable
from minichat_inference.backends import few_shot
from minichat_inference.backends.base import Event, Finish, Piece
from minichat_inference.model_store import MODEL_ID, ProgressBar, ensure_model

logger = logging.getLogger(__name__)

CONTEXT_TOKENS = 8192
_MAX_STOP_SEQUENCES = 12


@dataclass(frozen=True)
class Sampling:
    """How the model picks tokens when a request does not say (INFERENCE_TEMPERATURE,
    INFERENCE_TOP_P, INFERENCE_REPEAT_PENALTY): sampled, so a regenerated answer differs, and
    penalised for repeats, as a model this small otherwise loops on one sentence. A request's
    `temperature: 0` is greedy."""

    temperature: float = 0.7
    top_p: float = 0.9
    repeat_penalty: float = 1.1


@dataclass(frozen=True)
class _Job:
    prompt: str
    # The request's own limit (an error beyond the context), else the plane's default cap.
    max_tokens: int | None
    max_tokens_requested: bool
    temperature: float
    top_p: float
    repeat_penalty: float
    stop: list[str]
    seed: int
    strip_leading_space: bool


def default_threads() -> int:
    """The CPUs this process may run on (a container's cpuset, not the host's count)."""
    return len(os.sched_getaffinity(0)) or 1


def load_llama(path: Path, threads: int | None, context_tokens: int = CONTEXT_TOKENS) -> Any:
    """A llama-cpp-python `Llama` for the file (also used by the benchmark, for a fair compare)."""
    from llama_cpp import Llama

    return Llama(
        model_path=str(path),
        n_ctx=context_tokens,
        n_threads=threads or default_threads(),
        verbose=False,
    )


class EmbeddedBackend:
    name = "embedded"

    def __init__(
        self,
        cache_dir: Path,
        threads: int | None,
        model_id: str | None = None,
        sampling: Sampling | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self.sampling = sampling or Sampling()
        self._model_id = model_id or MODEL_ID
        self._llm: Any = None
        self._decoded = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def max_parallel(self) -> int | None:
        return 1

    @property
    def ready(self) -> bool:
        return self._llm is not None

    @property
    def decoded_tokens(self) -> int:
        return self._decoded

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        path = ensure_model(self.cache_dir, ProgressBar("assembling the embedded model"))
        llm = load_llama(path, self.threads)
        # Evaluate the fixed prefix now, so the first request only pays for its own turns.
        prefix = llm.tokenize(few_shot.PREFIX.encode(), add_bos=True, special=False)
        llm.create_completion(prefix, max_tokens=1, temperature=0)
        self._llm = llm

    async def close(self) -> None:
        llm, self._llm = self._llm, None
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown, llm)

    def _shutdown(self, llm: Any) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if llm is not None:
            llm.close()

    async def generate(
        self, request: ChatCompletionRequest, max_tokens: int | None
    ) -> AsyncGenerator[Event, None]:
        if self._llm is None:
            raise Unavailable("the embedded model is not loaded yet", code="model_loading")
        last = request.messages[-1]
        sampling = self.sampling
        job = _Job(
            prompt=few_shot.render(
                request.messages, continue_final_message=request.continue_final_message
            ),
            max_tokens=max_tokens,
            max_tokens_requested=request.token_limit is not None,
            temperature=_given(request.temperature, sampling.temperature),
            top_p=_given(request.top_p, sampling.top_p),
            repeat_penalty=_given(request.repetition_penalty, sampling.repeat_penalty),
            stop=[*few_shot.STOP, *request.stop_sequences][:_MAX_STOP_SEQUENCES],
            # llama-cpp-python derives an unset seed from the previous one, the same sequence
            # in every process; a fresh one makes a regenerated answer differ after restarts too.
            seed=request.seed if request.seed is not None else secrets.randbits(32),
            strip_leading_space=not request.continue_final_message
            or not last.text
            or last.text[-1].isspace(),
        )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event | BaseException] = asyncio.Queue()
        stop = threading.Event()

        def push(item: Event | BaseException) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                stop.set()

        future = loop.run_in_executor(self._executor, self._run, job, stop, push)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, Finish):
                    return
        finally:
            stop.set()
            # Wait for the thread to notice (at most one token), so the slot we hold is only
            # released once the CPU is really free; shielded, as we may be here being cancelled.
            with anyio.CancelScope(shield=True):
                await asyncio.wait([future])

    def _run(
        self, job: _Job, stop: threading.Event, push: Callable[[Event | BaseException], None]
    ) -> None:
        try:
            self._decode(job, stop, push)
        except MiniChatError as exc:
            push(exc)
        except Exception as exc:  # everything must reach the waiting request, not the pool
            logger.exception("the embedded model failed")
            push(Unavailable(f"the model failed: {exc}", code="model_error"))

    def _decode(
        self, job: _Job, stop: threading.Event, push: Callable[[Event | BaseException], None]
    ) -> None:
        from llama_cpp import StoppingCriteriaList

        llm = self._llm
        if llm is None or stop.is_set():
            return
        tokens = llm.tokenize(job.prompt.encode(), add_bos=True, special=False)
        room = llm.n_ctx() - len(tokens)
        asked_too_much = job.max_tokens_requested and (job.max_tokens or 0) > room
        if room <= 0 or asked_too_much:
            raise InvalidInput(
                f"this model's context is {llm.n_ctx()} tokens; the messages take "
                f"{len(tokens)} and max_tokens asks for {job.max_tokens or 'at least 1'}",
                field="messages" if room <= 0 else "max_tokens",
                code="context_length_exceeded",
            )
        decoded = 0

        def count_and_check(_ids: Any, _logits: Any) -> bool:
            nonlocal decoded
            decoded += 1
            self._decoded += 1
            return stop.is_set()

        limit = min(job.max_tokens or room, room)
        completion = llm.create_completion(
            tokens,
            max_tokens=limit,
            temperature=job.temperature,
            top_p=job.top_p,
            repeat_penalty=job.repeat_penalty,
            stop=job.stop,
            seed=job.seed,
            stream=True,
            stopping_criteria=StoppingCriteriaList([count_and_check]),
        )
        reported = 0
        strip = job.strip_leading_space
        finish_reason = "stop"
        try:
            for chunk in completion:
                if stop.is_set():
                    return
                choice = chunk["choices"][0]
                text: str = choice["text"]
                if strip and text:
                    text = text.lstrip()
                    strip = not text
                if text:
                    push(Piece(text, decoded - reported))
                    reported = decoded
                if choice["finish_reason"] == "length":
                    finish_reason = "length"
        finally:
            completion.close()
        if finish_reason == "length":
            # llama-cpp-python samples one token past the limit before it notices; that one
            # was computed (decoded_tokens counts it) but is not part of the answer.
            push(Finish("length", len(tokens), min(decoded, limit)))
        else:
            push(Finish("stop", len(tokens), decoded))


def _given(value: float | None, default: float) -> float:
    return default if value is None else value

"""What one inference app holds for its lifetime; routes reach it as `StateDep`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from minichat_inference.admission import Admission
from minichat_inference.backends import Backend, build_backend
from minichat_inference.generation import Generations
from minichat_inference.metrics import Metrics
from minichat_inference.settings import InferenceSettings


@dataclass
class InferenceState:
    settings: InferenceSettings
    backend: Backend
    metrics: Metrics
    admission: Admission
    generations: Generations

    @classmethod
    def build(cls, settings: InferenceSettings, backend: Backend | None = None) -> InferenceState:
        backend = backend or build_backend(settings)
        metrics = Metrics(backend.name)
        # A backend that runs one generation at a time queues the rest here, where waiting is
        # visible and bounded, rather than on its lock.
        concurrency = settings.inference_max_concurrency
        if backend.max_parallel is not None:
            concurrency = min(concurrency, backend.max_parallel)
        admission = Admission(concurrency, settings.inference_max_queue, metrics)
        generations = Generations(
            backend, admission, metrics, settings.inference_default_max_tokens
        )
        return cls(settings, backend, metrics, admission, generations)


def _state(request: Request) -> InferenceState:
    state: InferenceState = request.app.state.inference
    return state


StateDep = Annotated[InferenceState, Depends(_state)]

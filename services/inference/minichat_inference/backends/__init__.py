"""Model backends; `build_backend(settings)` picks one by INFERENCE_BACKEND."""

from __future__ import annotations

from minichat.inference_client import InferenceClient
from minichat_inference.backends.base import Backend, Event, Finish, Piece
from minichat_inference.backends.embedded import EmbeddedBackend, Sampling
from minichat_inference.backends.openai import OpenAIBackend
from minichat_inference.backends.scripted import ScriptedBackend
from minichat_inference.model_store import default_cache_dir, require_installed
from minichat_inference.settings import InferenceSettings

__all__ = ["Backend", "Event", "Finish", "Piece", "build_backend"]


def build_backend(settings: InferenceSettings) -> Backend:
    """The configured backend, not started yet; raises ConfigError naming what is missing."""
    if settings.inference_backend == "scripted":
        return ScriptedBackend(
            settings.inference_scripted_tokens,
            settings.inference_scripted_interval_ms,
            settings.inference_model,
        )
    if settings.inference_backend == "openai":
        # InferenceSettings refuses the openai backend without a URL.
        assert settings.inference_upstream_url is not None
        key = settings.inference_upstream_api_key
        client = InferenceClient(
            settings.inference_upstream_url,
            api_key=key.get_secret_value() if key else None,
            timeout_seconds=settings.inference_timeout_seconds,
            connect_timeout_seconds=settings.inference_connect_timeout_seconds,
        )
        return OpenAIBackend(client, settings.inference_model)
    require_installed()
    sampling = Sampling(
        settings.inference_temperature, settings.inference_top_p, settings.inference_repeat_penalty
    )
    return EmbeddedBackend(
        default_cache_dir(settings.model_cache_dir),
        settings.inference_threads,
        settings.inference_model,
        sampling,
    )

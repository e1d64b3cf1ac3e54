"""The inference plane's settings (`minichat inference`), read once at start with `.load()`."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from minichat.settings import CommonSettings, InferenceBackend


class ModelSettings(CommonSettings):
    """Where the embedded model file is assembled (`minichat model`, the embedded backend)."""

    model_cache_dir: str | None = None


class InferenceSettings(ModelSettings):
    # embedded: the bundled Gemma 3 270M; openai: any OpenAI-compatible server at
    # INFERENCE_UPSTREAM_URL; scripted: a fixed answer (tests, benchmarks).
    inference_backend: InferenceBackend = "embedded"
    inference_model: str | None = None
    inference_upstream_url: str | None = None
    inference_upstream_api_key: SecretStr | None = None
    inference_timeout_seconds: float = Field(default=120, gt=0)
    inference_connect_timeout_seconds: float = Field(default=2, gt=0)
    inference_scripted_tokens: int = Field(default=64, ge=0)
    inference_scripted_interval_ms: float = Field(default=20, ge=0)
    # Admission control: answers generated at once, and how many more may wait (429 beyond).
    inference_max_concurrency: int = Field(default=2, ge=1)
    inference_max_queue: int = Field(default=8, ge=0)
    inference_threads: int | None = Field(default=None, ge=1)
    # The longest answer of a request that sets no max_tokens, so it cannot hold a slot for
    # minutes; and how the embedded model samples when the request does not say.
    inference_default_max_tokens: int = Field(default=1024, ge=1)
    inference_temperature: float = Field(default=0.7, ge=0, le=2)
    inference_top_p: float = Field(default=0.9, gt=0, le=1)
    inference_repeat_penalty: float = Field(default=1.1, gt=0, le=2)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if self.inference_backend == "openai" and not self.inference_upstream_url:
            raise ValueError(
                "INFERENCE_UPSTREAM_URL is not set (e.g. http://127.0.0.1:11434/v1); "
                "INFERENCE_BACKEND=openai streams from it"
            )
        return self

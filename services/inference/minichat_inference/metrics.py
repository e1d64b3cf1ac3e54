"""Prometheus metrics of the inference plane, on a registry per app so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_PREFIX = "minichat_inference_"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_RATE_BUCKETS = (1, 5, 10, 20, 40, 60, 80, 100, 150, 200, 400, 1000)


class Metrics:
    def __init__(self, backend: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.backend = backend
        r = self.registry
        self.request_duration = Histogram(
            _PREFIX + "request_duration_seconds",
            "Time from request to last byte, by route and status",
            ["route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.time_to_first_token = Histogram(
            _PREFIX + "time_to_first_token_seconds",
            "Time from admission to the first generated token",
            ["backend"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            _PREFIX + "queue_wait_seconds",
            "Time a request waited for a generation slot",
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.tokens_per_second = Histogram(
            _PREFIX + "tokens_per_second",
            "Decode rate of each finished generation (after its first token)",
            ["backend"],
            buckets=_RATE_BUCKETS,
            registry=r,
        )
        self.generated_tokens = Counter(
            _PREFIX + "generated_tokens",
            "Completion tokens sent to clients",
            ["backend"],
            registry=r,
        )
        self.prompt_tokens = Counter(
            _PREFIX + "prompt_tokens",
            "Prompt tokens of finished generations",
            ["backend"],
            registry=r,
        )
        self.generations = Counter(
            _PREFIX + "generations",
            "Generations by outcome: stop, length, cancelled (client left), error",
            ["backend", "outcome"],
            registry=r,
        )
        self.rejected = Counter(
            _PREFIX + "rejected_requests",
            "Requests refused with 429 because the queue was full",
            registry=r,
        )
        self.active_generations = Gauge(
            _PREFIX + "active_generations", "Generations holding a slot now", registry=r
        )
        self.queue_depth = Gauge(
            _PREFIX + "queue_depth", "Requests waiting for a generation slot", registry=r
        )
        self.ready = Gauge(_PREFIX + "ready", "1 when the model is loaded and serving", registry=r)

        # Every series from the start at 0: a dashboard or a rate sees it before its first use.
        for per_backend in (
            self.time_to_first_token,
            self.tokens_per_second,
            self.generated_tokens,
            self.prompt_tokens,
        ):
            per_backend.labels(backend)
        for outcome in ("stop", "length", "cancelled", "error"):
            self.generations.labels(backend, outcome)

    def finished(self, outcome: str) -> None:
        self.generations.labels(self.backend, outcome).inc()

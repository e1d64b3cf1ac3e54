"""Prometheus metrics of the api process (`minichat_` prefix), served at /metrics.

Labels are bounded: route templates, never ids. The latency histograms carry exemplars naming
the trace of a sample when tracing is on (served to scrapers that accept OpenMetrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUEST_LATENCY = Histogram(
    "minichat_http_request_duration_seconds",
    "Time to answer an HTTP request (to the first byte for streams).",
    ["method", "route", "status"],
)
GENERATIONS_STARTED = Counter(
    "minichat_generations_started_total", "Generations created (each ends in one final state)."
)
GENERATIONS_FINISHED = Counter(
    "minichat_generations_total", "Generations that reached a final state.", ["status"]
)
# Every final state from the start at 0, so a failure ratio is defined before the first failure.
for _status in ("succeeded", "failed", "canceled"):
    GENERATIONS_FINISHED.labels(status=_status)
GENERATIONS_RUNNING = Gauge(
    "minichat_generations_running", "Generations this process is streaming right now."
)
GENERATIONS_ADOPTED = Counter(
    "minichat_generations_adopted_total", "Generations taken over from a process that died."
)
TIME_TO_FIRST_TOKEN = Histogram(
    "minichat_time_to_first_token_seconds",
    "From the start of a generation to its first token.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TOKENS_STREAMED = Counter("minichat_tokens_streamed_total", "Tokens received from inference.")
GENERATION_DURATION = Histogram(
    "minichat_generation_duration_seconds",
    "From the start of a generation to its final state.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
RUNNER_QUEUE_DEPTH = Gauge(
    "minichat_runner_queue_depth",
    "Generations of this process waiting for a runner slot (GENERATION_CONCURRENCY).",
)
RUNNER_QUEUE_WAIT = Histogram(
    "minichat_runner_queue_wait_seconds",
    "Time a generation waited for a runner slot.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)
ACTIVE_STREAMS = Gauge("minichat_sse_streams_active", "SSE clients connected to this process.")

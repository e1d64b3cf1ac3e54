"""The inference plane (`minichat inference`): the embedded model, or a proxy to an
OpenAI-compatible server whose API key the kubelet reads from the user's Secret."""

from __future__ import annotations

import math
from typing import Any

from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import (
    SecretRef,
    common_env,
    container,
    deployment,
    from_secret,
    http_probe,
    mount,
    pod_template,
    scratch,
    service,
    value,
)
from minichat_operator.spec import Quantity

PORT = 8001


def cpus(quantity: Quantity | None) -> int | None:
    """Whole CPUs in a cpu quantity (at least one), or None when there is none to go by."""
    if quantity is None:
        return None
    text = str(quantity)
    try:
        amount = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return None  # an exotic spelling (1e3m): llama.cpp then picks its own thread count
    return max(1, math.floor(amount))


def _env(instance: Instance) -> list[dict[str, Any]]:
    inference = instance.spec.inference
    env = [*common_env(instance, "inference"), value("INFERENCE_BACKEND", inference.backend)]
    if inference.backend == "openai":
        upstream = inference.upstream
        env.append(value("INFERENCE_UPSTREAM_URL", upstream.url))
        if upstream.model:
            env.append(value("INFERENCE_MODEL", upstream.model))
        if upstream.api_key_secret_ref.name:
            ref = SecretRef(upstream.api_key_secret_ref.name, upstream.api_key_secret_ref.key)
            env.append(from_secret("INFERENCE_UPSTREAM_API_KEY", ref))
    else:
        # llama.cpp would start a thread per CPU of the node, not of the Pod's share.
        resources = inference.resources
        threads = cpus(resources.limits.get("cpu", resources.requests.get("cpu")))
        if threads is not None:
            env.append(value("INFERENCE_THREADS", str(threads)))
    return env


def render(instance: Instance) -> list[dict[str, Any]]:
    inference = instance.spec.inference
    # Loading the embedded model takes a while; the startup probe gives it two minutes.
    main = container(
        "inference",
        instance.image(),
        pull_policy=instance.spec.image.pull_policy,
        args=["inference", "--host", "0.0.0.0", "--port", str(PORT)],
        env=_env(instance),
        ports=[("http", PORT)],
        spec=inference.resources,
        probes={
            "startupProbe": http_probe("/healthz", "http", period=5, failures=24),
            "readinessProbe": http_probe("/readyz", "http", period=5),
            "livenessProbe": http_probe("/healthz", "http", period=10, failures=6),
        },
        mounts=[mount("tmp", "/tmp")],
    )
    template = pod_template(instance, "inference", [main], volumes=[scratch("tmp")])
    return [
        service(instance, "inference", [("http", PORT)]),
        deployment(instance, "inference", inference.replicas, template),
    ]

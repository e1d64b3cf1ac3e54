"""The operator's Kopf wrappers, thin on purpose: each hands its event to handlers/, and `run`
starts Kopf for the CLI (`minichat operator`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from minichat_operator.handlers import children, probes
from minichat_operator.k8s import Cluster

GROUP, VERSION, PLURAL = "minichat.dev", "v1alpha1", "minichats"
OWNED = {"app.kubernetes.io/managed-by": "minichat-operator"}
# What a MiniChat owns and whose changes (a rollout, a finished Job, a hand edit, a deletion)
# call for another look at its owner.
CHILD_KINDS = (
    ("apps", "v1", "deployments"),
    ("apps", "v1", "statefulsets"),
    ("batch", "v1", "jobs"),
    ("", "v1", "services"),
    ("", "v1", "secrets"),
    ("policy", "v1", "poddisruptionbudgets"),
    ("autoscaling", "v2", "horizontalpodautoscalers"),
    ("networking.k8s.io", "v1", "networkpolicies"),
    ("networking.k8s.io", "v1", "ingresses"),
)
_cluster: Cluster | None = None


def cluster() -> Cluster:
    assert _cluster is not None, "the operator's start-up handler has not run"
    return _cluster


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    global _cluster
    _cluster = Cluster()
    settings.posting.level = logging.INFO
    # One line per API request is the client's debug output, not the operator's log.
    for client_logger in ("httpx", "httpx2"):  # httpx2: the fork lightkube runs on
        logging.getLogger(client_logger).setLevel(logging.WARNING)
    settings.watching.server_timeout = 300
    await probes.start(memo)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    await probes.stop(memo)
    if _cluster is not None:
        await _cluster.close()


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def minichat_changed(namespace: str | None, name: str, **_: Any) -> None:
    await children.reconcile_owner(cluster(), (namespace or "", name))


def _watch_children() -> None:
    for group, version, plural in CHILD_KINDS:
        kopf.on.event(group, version, plural, labels=OWNED)(child_changed)


async def child_changed(body: kopf.Body, **_: Any) -> None:
    await children.changed(cluster(), dict(body))


_watch_children()


def run(namespaces: list[str], port: int) -> None:
    """Runs the operator until it is stopped: every namespace, or only those named."""
    # standalone: one operator runs (the chart's Deployment is one replica, Recreate), so
    # Kopf's peering, which needs a CRD of its own, is off.
    operator = kopf.operator(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        memo=kopf.Memo(probe_port=port),
    )
    asyncio.run(operator)

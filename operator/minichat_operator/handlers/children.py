"""A change to a MiniChat or to something it owns (a rollout, a finished Job, a hand edit, a
deletion) reconciles it; a burst of changes costs one reconcile more, not one each."""

from __future__ import annotations

import asyncio
from typing import Any

from minichat_operator.handlers import reconcile
from minichat_operator.k8s import Cluster

# Owners being reconciled, and whether another change arrived meanwhile.
_running: dict[tuple[str, str], bool] = {}


def owner_of(child: dict[str, Any]) -> tuple[str, str] | None:
    meta = child.get("metadata", {})
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "MiniChat" and ref.get("controller"):
            return meta.get("namespace", ""), ref["name"]
    return None


async def changed(cluster: Cluster, child: dict[str, Any]) -> None:
    if owner := owner_of(child):
        await reconcile_owner(cluster, owner)


async def reconcile_owner(cluster: Cluster, owner: tuple[str, str]) -> None:
    """Reconciles the MiniChat (namespace, name), once more if it changes meanwhile; errors
    reach the caller (Kopf retries its own handlers' TemporaryErrors)."""
    if owner in _running:
        _running[owner] = True  # the running reconcile goes round once more
        return
    _running[owner] = False
    try:
        while True:
            body = await cluster.minichat(*owner)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return  # being deleted: garbage collection takes its children
            await reconcile.reconcile(cluster, body)
            if not _running[owner]:
                return
            _running[owner] = False
            await asyncio.sleep(0)
    finally:
        del _running[owner]

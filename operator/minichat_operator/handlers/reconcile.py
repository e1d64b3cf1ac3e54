"""One reconcile of a MiniChat: render it, create the generated Secrets once, apply the rest,
move the api and worker to the spec's tag once its migration Job succeeded, and write the status
(only when it changed), with an Event when a condition turns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import kopf
from pydantic import ValidationError

from minichat_operator import status as statuses
from minichat_operator.documents import describe
from minichat_operator.handlers import probes
from minichat_operator.k8s import ApiFailure, Cluster
from minichat_operator.render import GeneratedSecrets, Manifest, render
from minichat_operator.render.api import url
from minichat_operator.render.instance import Instance
from minichat_operator.spec import MiniChat

Key = tuple[str, str]  # (kind, name)
WORKLOADS = ("Deployment", "StatefulSet")
# Fields of status that belong to Kopf (its progress), not to the MiniChat's own report.
KOPF_FIELDS = ("kopf",)


async def reconcile(cluster: Cluster, body: dict[str, Any]) -> None:
    async with probes.timed():
        try:
            result = await _reconcile(cluster, body)
        except Exception:
            probes.RECONCILES.labels("error").inc()
            raise
    probes.RECONCILES.labels(result).inc()


async def _reconcile(cluster: Cluster, body: dict[str, Any]) -> str:
    try:
        minichat = MiniChat.model_validate(body)
    except ValidationError as error:
        raise kopf.PermanentError(f"this MiniChat cannot be served: {describe(error)}") from None
    previous: dict[str, Any] = dict(body.get("status") or {})
    tag = minichat.spec.image.tag
    serving = previous.get("version") or None
    manifest = render(minichat, GeneratedSecrets.random(), serving_tag=serving)
    for secret in manifest.generated:
        if await cluster.create_once(secret):
            kopf.info(_body(body), reason="SecretGenerated", message=_named("generated", secret))
    failed: list[str] = []
    stored = await _apply(cluster, body, manifest, failed)
    migration = _migration(stored, tag)
    if migration.state == "Succeeded" and serving != tag:
        serving = tag  # migrated: the api and worker move to it
        rollout = render(minichat, _unused(), serving_tag=serving)
        stored.update(await _apply(cluster, body, rollout, failed))
    await _prune(cluster, body, render(minichat, _unused(), serving_tag=serving))
    wanted = render(minichat, _unused(), serving_tag=tag)
    seen = statuses.Observation(
        generation=int(body["metadata"].get("generation") or 0),
        components=_components(wanted, stored),
        database_ready=_database_ready(minichat, stored),
        migration=migration,
        version=serving or "",
        url=url(Instance.of(minichat, serving)),
    )
    status = statuses.build(seen, previous, datetime.now(UTC))
    if status != {k: v for k, v in previous.items() if k not in KOPF_FIELDS}:
        meta = body["metadata"]
        await cluster.patch_status(meta["namespace"], meta["name"], status)
        _announce(body, previous, status)
    if failed:
        problem = "could not apply " + "; ".join(failed)
        kopf.warn(_body(body), reason="ApplyFailed", message=problem)
        raise kopf.TemporaryError(problem, delay=30)
    return str(status["phase"]).lower()


def _unused() -> GeneratedSecrets:
    """Values for a render whose generated Secrets are not created again."""
    return GeneratedSecrets("", "", "", "")


def _named(verb: str, obj: dict[str, Any]) -> str:
    return f"{verb} {obj['kind']} {obj['metadata']['name']}"


async def _apply(
    cluster: Cluster, body: dict[str, Any], manifest: Manifest, failed: list[str]
) -> dict[Key, dict[str, Any]]:
    """Applies every object, also after one fails (the others still converge); the failures go
    to `failed`, for the reconcile to report once the status is written."""
    stored = {}
    for obj in manifest.applied:
        key = (obj["kind"], obj["metadata"]["name"])
        try:
            if obj["kind"] == "Deployment" and "replicas" not in obj["spec"]:
                await cluster.hand_over_replicas(obj["metadata"]["namespace"], key[1])
            stored[key] = await cluster.apply(obj)
        except ApiFailure as error:
            if error.code == 404:
                failed.append(
                    f"{key[0]} {key[1]}: this cluster has no such kind ({obj['apiVersion']})"
                )
                continue
            if error.code != 422:
                failed.append(f"{key[0]} {key[1]}: {error.message}")
                continue
            # Invalid after a hand edit that apply cannot undo: made again from the spec.
            stored[key] = await cluster.recreate(obj)
            kopf.warn(_body(body), reason="Recreated", message=_named("recreated", obj))
    return stored


async def _prune(cluster: Cluster, body: dict[str, Any], manifest: Manifest) -> None:
    """Deletes what this MiniChat owns and its spec no longer asks for."""
    meta = body["metadata"]
    kept = {(obj["kind"], obj["metadata"]["name"]) for obj in manifest.objects}
    for api_version, kind, name in await cluster.owned(meta["namespace"], meta["uid"]):
        if (kind, name) not in kept:
            await cluster.delete(api_version, kind, meta["namespace"], name)
            kopf.info(
                _body(body),
                reason="Pruned",
                message=f"deleted {kind} {name}: no longer in the spec",
            )


def _migration(stored: dict[Key, dict[str, Any]], tag: str) -> statuses.Migration:
    job = next((obj for (kind, _), obj in stored.items() if kind == "Job"), {})
    state = job.get("status") or {}
    for cond in state.get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return statuses.Migration(tag, "Succeeded")
        if cond.get("type") == "Failed":
            return statuses.Migration(
                tag, "Failed", str(cond.get("reason") or ""), str(cond.get("message") or "")
            )
    if state.get("active") or state.get("failed"):
        return statuses.Migration(tag, "Running")
    return statuses.Migration(tag, "Pending")


def _components(
    wanted: Manifest, stored: dict[Key, dict[str, Any]]
) -> dict[str, statuses.ComponentCount]:
    """Ready and desired Pods of every component the spec asks for, running yet or not."""
    counts = {}
    for obj in wanted.applied:
        if obj["kind"] not in WORKLOADS:
            continue
        component = obj["metadata"]["labels"]["app.kubernetes.io/component"]
        running = stored.get((obj["kind"], obj["metadata"]["name"]))
        source = running or obj
        desired = (source.get("spec") or {}).get("replicas")
        ready = ((running or {}).get("status") or {}).get("readyReplicas") or 0
        counts[component] = statuses.ComponentCount(
            int(ready), 1 if desired is None else desired, stalled=_stalled(running)
        )
    return counts


def _stalled(workload: dict[str, Any] | None) -> bool:
    """A Deployment past its progress deadline (Kubernetes' own verdict on a failing rollout)."""
    for cond in ((workload or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return True
    return False


def _database_ready(minichat: MiniChat, stored: dict[Key, dict[str, Any]]) -> bool:
    if minichat.spec.postgres.external:
        return True  # the user's own: its migration Job is what tells whether it answers
    name = Instance.of(minichat, None).child("postgres")
    found = stored.get(("StatefulSet", name)) or {}
    return bool(((found.get("status") or {}).get("readyReplicas") or 0) >= 1)


def _announce(body: dict[str, Any], previous: dict[str, Any], status: dict[str, Any]) -> None:
    """An Event for each condition that turned, with its reason and message."""
    before = {c["type"]: c.get("status") for c in previous.get("conditions") or []}
    for cond in status["conditions"]:
        if before.get(cond["type"]) == cond["status"]:
            continue
        notice = kopf.warn if cond["type"] == "Degraded" and cond["status"] == "True" else kopf.info
        message = f"{cond['type']}={cond['status']}: {cond['message']}"
        notice(_body(body), reason=cond["reason"], message=message)


def _body(body: dict[str, Any]) -> kopf.Body:
    # Kopf's event posting reads only the object reference (apiVersion, kind, metadata).
    return cast(kopf.Body, body)

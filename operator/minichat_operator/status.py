"""A MiniChat's status from what the operator observed: conditions (metav1.Condition) and phase.
Pure functions; the handlers observe and write, this only decides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Phase = Literal["Pending", "Progressing", "Ready", "Degraded"]
ConditionStatus = Literal["True", "False", "Unknown"]
MigrationState = Literal["Pending", "Running", "Succeeded", "Failed"]
# The order conditions are listed in, so a status written twice is the same bytes.
CONDITION_TYPES = ("Ready", "DatabaseReady", "MigrationsApplied", "Progressing", "Degraded")


@dataclass(frozen=True)
class ComponentCount:
    """`stalled`: its rollout has stopped making progress (a Deployment past its
    progressDeadlineSeconds), as opposed to Pods that are still starting."""

    ready: int
    desired: int
    stalled: bool = False

    @property
    def is_ready(self) -> bool:
        return self.ready >= self.desired


@dataclass(frozen=True)
class Migration:
    """The migration Job of the spec's image tag, as last seen."""

    tag: str
    state: MigrationState
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class Observation:
    """What a reconcile saw; `version` is the tag the api and worker run ("" before the first)."""

    generation: int
    components: Mapping[str, ComponentCount]
    database_ready: bool
    migration: Migration
    version: str
    url: str


def timestamp(now: datetime) -> str:
    """RFC 3339 in UTC, to the second, as metav1.Time is written."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """`conditions` with `type_` set; its lastTransitionTime moves only if its status changes."""
    previous = next((c for c in conditions if c.get("type") == type_), None)
    since = timestamp(now)
    if previous is not None and previous.get("status") == status:
        since = str(previous.get("lastTransitionTime") or since)
    updated = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }
    others = [dict(c) for c in conditions if c.get("type") != type_]
    return _ordered([*others, updated])


def _ordered(conditions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(condition: Mapping[str, Any]) -> tuple[int, str]:
        kind = str(condition.get("type", ""))
        known = CONDITION_TYPES.index(kind) if kind in CONDITION_TYPES else len(CONDITION_TYPES)
        return known, kind

    return sorted(conditions, key=rank)


def condition_is(conditions: Sequence[Mapping[str, Any]], type_: str, status: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == status for c in conditions)


def ready_summary(components: Mapping[str, ComponentCount]) -> str:
    """Components ready out of all, e.g. "6/7" (the Ready printer column)."""
    ready = sum(1 for count in components.values() if count.is_ready)
    return f"{ready}/{len(components)}"


def phase_of(
    conditions: Sequence[Mapping[str, Any]], components: Mapping[str, ComponentCount]
) -> Phase:
    if condition_is(conditions, "Degraded", "True"):
        return "Degraded"
    if condition_is(conditions, "Ready", "True"):
        return "Ready"
    if not any(count.ready > 0 for count in components.values()):
        return "Pending"
    return "Progressing"


def _not_ready(components: Mapping[str, ComponentCount]) -> str:
    waiting = [
        f"{name} {count.ready}/{count.desired}"
        for name, count in sorted(components.items())
        if not count.is_ready
    ]
    return ", ".join(waiting)


Verdict = tuple[ConditionStatus, str, str]  # status, reason, message


def _database(seen: Observation) -> Verdict:
    if seen.database_ready:
        return "True", "DatabaseReady", "the database accepts connections"
    return "False", "WaitingForDatabase", "the database is not ready yet"


def _migrations(migration: Migration) -> Verdict:
    tag = migration.tag
    if migration.state == "Succeeded":
        return "True", "MigrationsSucceeded", f"migrations of {tag} applied"
    if migration.state == "Failed":
        why = migration.message or "see the Job"
        return (
            "False",
            migration.reason or "MigrationFailed",
            f"the migrations of {tag} failed: {why}",
        )
    if migration.state == "Running":
        return "False", "MigrationsRunning", f"migrating the database to {tag}"
    return "False", "WaitingForDatabase", f"{tag} migrates once the database is ready"


def _degraded(seen: Observation) -> Verdict:
    """A failed migration, or a component whose rollout stalled. Pods still starting (a first
    rollout, a new tag) are progress, not a failure."""
    if seen.migration.state == "Failed":
        _, reason, message = _migrations(seen.migration)
        serving = f"; {seen.version} keeps serving" if seen.version else ""
        return "True", reason, message + serving
    stalled = {name: count for name, count in seen.components.items() if count.stalled}
    if stalled:
        return "True", "ComponentUnavailable", f"rollout stalled: {_not_ready(stalled)}"
    return "False", "AsExpected", "nothing has failed"


def _rollout(seen: Observation) -> tuple[Verdict, Verdict]:
    """(Ready, Progressing): ready once the spec's tag is migrated and rolled out, all Pods up."""
    tag = seen.migration.tag
    waiting = _not_ready(seen.components)
    if seen.migration.state == "Succeeded" and seen.version == tag and not waiting:
        return (
            ("True", "AllComponentsReady", f"every component of {tag} is ready"),
            ("False", "RolloutComplete", f"{tag} is rolled out"),
        )
    doing = f"waiting for {waiting}" if waiting else f"moving to {tag}"
    return (
        ("False", "ComponentsNotReady" if waiting else "RollingOut", doing),
        ("True", "RollingOut", doing),
    )


def _conditions(seen: Observation) -> dict[str, Verdict]:
    ready, progressing = _rollout(seen)
    return {
        "Ready": ready,
        "DatabaseReady": _database(seen),
        "MigrationsApplied": _migrations(seen.migration),
        "Progressing": progressing,
        "Degraded": _degraded(seen),
    }


def build(seen: Observation, previous: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The status to write for `seen`, given the status stored before (for transition times)."""
    conditions: list[dict[str, Any]] = list(previous.get("conditions") or [])
    for type_, (status, reason, message) in _conditions(seen).items():
        conditions = set_condition(
            conditions, type_, status, reason, message, generation=seen.generation, now=now
        )
    return {
        "observedGeneration": seen.generation,
        "phase": phase_of(conditions, seen.components),
        "ready": ready_summary(seen.components),
        "conditions": conditions,
        "components": {
            name: {"ready": count.ready, "desired": count.desired}
            for name, count in sorted(seen.components.items())
        },
        "version": seen.version,
        "url": seen.url,
    }

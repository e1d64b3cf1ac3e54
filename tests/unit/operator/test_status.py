"""Conditions keep their transition time until their status changes; the phase and the five
conditions follow from what a reconcile observed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from minichat_operator.status import (
    ComponentCount,
    Migration,
    Observation,
    build,
    phase_of,
    ready_summary,
    set_condition,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
ALL = ("api", "inference", "worker", "web", "postgres", "redis", "rabbitmq")


def counts(
    ready: int = 1, desired: int = 1, **overrides: tuple[int, int]
) -> dict[str, ComponentCount]:
    found = {name: ComponentCount(ready, desired) for name in ALL}
    found.update({name: ComponentCount(*pair) for name, pair in overrides.items()})
    return found


def observed(
    *,
    components: dict[str, ComponentCount] | None = None,
    migration: Migration | None = None,
    version: str = "0.1.0",
    database_ready: bool = True,
) -> Observation:
    return Observation(
        generation=3,
        components=components if components is not None else counts(),
        database_ready=database_ready,
        migration=migration or Migration("0.1.0", "Succeeded"),
        version=version,
        url="http://demo-api.chat.svc:8000",
    )


def conditions_of(status: dict[str, object]) -> dict[str, dict[str, object]]:
    found = status["conditions"]
    assert isinstance(found, list)
    return {c["type"]: c for c in found}


def test_the_transition_time_moves_only_when_the_status_changes() -> None:
    first = set_condition([], "Ready", "False", "Starting", "a", generation=1, now=T0)
    same = set_condition(first, "Ready", "False", "StillStarting", "b", generation=2, now=T1)
    assert same[0]["lastTransitionTime"] == "2026-12-01T12:00:00Z"
    assert (same[0]["reason"], same[0]["message"], same[0]["observedGeneration"]) == (
        "StillStarting",
        "b",
        2,
    )
    changed = set_condition(same, "Ready", "True", "AllComponentsReady", "c", generation=2, now=T1)
    assert changed[0]["lastTransitionTime"] == "2026-12-01T12:05:00Z"


def test_conditions_keep_one_order_and_others_untouched() -> None:
    foreign = {
        "type": "Custom",
        "status": "True",
        "reason": "X",
        "message": "",
        "lastTransitionTime": "x",
    }
    out = set_condition([foreign], "Degraded", "False", "AsExpected", "", generation=1, now=T0)
    out = set_condition(out, "Ready", "True", "AllComponentsReady", "", generation=1, now=T0)
    assert [c["type"] for c in out] == ["Ready", "Degraded", "Custom"]
    assert out[2] == foreign


def test_everything_ready_is_ready() -> None:
    status = build(observed(), {}, T0)
    found = conditions_of(status)
    assert status["phase"] == "Ready"
    assert status["ready"] == "7/7"
    assert status["observedGeneration"] == 3
    assert status["version"] == "0.1.0"
    assert {name: c["status"] for name, c in found.items()} == {
        "Ready": "True",
        "DatabaseReady": "True",
        "MigrationsApplied": "True",
        "Progressing": "False",
        "Degraded": "False",
    }
    assert found["Ready"]["reason"] == "AllComponentsReady"
    assert all(c["observedGeneration"] == 3 for c in found.values())


def test_nothing_ready_yet_is_pending() -> None:
    status = build(
        observed(
            components=counts(ready=0),
            migration=Migration("0.1.0", "Pending"),
            version="",
            database_ready=False,
        ),
        {},
        T0,
    )
    found = conditions_of(status)
    assert status["phase"] == "Pending"
    assert status["ready"] == "0/7"
    assert found["DatabaseReady"]["status"] == "False"
    assert found["MigrationsApplied"]["reason"] == "WaitingForDatabase"
    assert found["Degraded"]["status"] == "False"  # nothing has served yet: not degraded


def test_a_new_tag_migrating_is_progressing_while_the_old_one_serves() -> None:
    status = build(observed(migration=Migration("0.2.0", "Running")), {}, T0)
    found = conditions_of(status)
    assert status["phase"] == "Progressing"
    assert status["version"] == "0.1.0"
    assert found["MigrationsApplied"]["reason"] == "MigrationsRunning"
    assert found["Ready"]["status"] == "False"
    assert found["Progressing"]["status"] == "True"


def test_a_failed_migration_is_degraded_with_the_jobs_reason() -> None:
    failed = Migration(
        "0.2.0", "Failed", "BackoffLimitExceeded", "Job has reached the backoff limit"
    )
    status = build(observed(migration=failed), {}, T0)
    found = conditions_of(status)
    assert status["phase"] == "Degraded"
    assert found["Degraded"]["status"] == "True"
    assert found["Degraded"]["reason"] == "BackoffLimitExceeded"
    assert "0.1.0 keeps serving" in str(found["Degraded"]["message"])
    assert found["MigrationsApplied"]["reason"] == "BackoffLimitExceeded"


def test_a_component_whose_rollout_stalled_is_degraded() -> None:
    components = {**counts(), "redis": ComponentCount(0, 1, stalled=True)}
    status = build(observed(components=components), {}, T0)
    found = conditions_of(status)
    assert status["phase"] == "Degraded"
    assert found["Degraded"]["reason"] == "ComponentUnavailable"
    assert "redis 0/1" in str(found["Degraded"]["message"])


def test_pods_still_starting_are_progress_not_degradation() -> None:
    # The api and worker are created with no Pod ready the moment their tag is migrated.
    status = build(observed(components=counts(api=(0, 2), worker=(0, 1))), {}, T0)
    found = conditions_of(status)
    assert status["phase"] == "Progressing"
    assert found["Degraded"]["status"] == "False"


def test_scaling_up_is_progressing_not_degraded() -> None:
    status = build(observed(components=counts(api=(2, 4))), {}, T0)
    found = conditions_of(status)
    assert status["phase"] == "Progressing"
    assert status["ready"] == "6/7"
    assert found["Ready"]["reason"] == "ComponentsNotReady"
    assert "api 2/4" in str(found["Ready"]["message"])


def test_a_second_build_of_the_same_observation_changes_nothing() -> None:
    first = build(observed(), {}, T0)
    assert build(observed(), first, T1) == first


def test_the_ready_time_is_when_it_became_ready() -> None:
    starting = build(observed(components=counts(api=(0, 2))), {}, T0)
    ready = build(observed(), starting, T1)
    assert conditions_of(ready)["Ready"]["lastTransitionTime"] == "2026-12-01T12:05:00Z"
    assert conditions_of(ready)["DatabaseReady"]["lastTransitionTime"] == "2026-12-01T12:00:00Z"


def test_phase_and_summary_helpers() -> None:
    assert ready_summary({}) == "0/0"
    assert ready_summary({"api": ComponentCount(0, 0)}) == "1/1"  # scaled to zero is as asked
    assert phase_of([], {"api": ComponentCount(1, 2)}) == "Progressing"

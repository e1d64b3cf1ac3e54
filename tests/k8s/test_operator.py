"""The operator on the real control plane, running as the chart's ServiceAccount: a MiniChat
becomes its whole stack and reports Ready; reconciles write nothing twice, follow changes, repair
drift, gate rollouts on migrations, survive a restart, and deletion cleans up."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
import yaml
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import PersistentVolumeClaim, Secret, Service
from lightkube.resources.policy_v1 import PodDisruptionBudget
from lightkube.types import PatchType

from tests.eventually import eventually_blocking
from tests.k8s.harness import ROOT, ControlPlane
from tests.k8s.operator_process import MiniChat, OperatorProcess

pytestmark = pytest.mark.k8s

EXAMPLE = ROOT / "examples" / "minichat.yaml"
API_VERSION = "minichat.dev/v1alpha1"
OWNED_KINDS = (
    Deployment,
    StatefulSet,
    Service,
    Secret,
    Job,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
)
COMPONENTS = {"api", "inference", "worker", "web", "postgres", "redis", "rabbitmq"}


def instance_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "minichat-operator"}


def as_dict(obj: object) -> dict[str, Any]:
    result: dict[str, Any] = cast(Any, obj).to_dict()
    return result


def owned(kube: Client, namespace: str, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Everything the operator made for the MiniChat, by (kind, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for kind in OWNED_KINDS:
        for obj in kube.list(kind, namespace=namespace, labels={**instance_labels(name)}):
            found[(kind.__name__, as_dict(obj)["metadata"]["name"])] = as_dict(obj)
    return found


def versions(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {key: obj["metadata"]["resourceVersion"] for key, obj in objects.items()}


def status_of(kube: Client, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = kube.get(MiniChat, name, namespace=namespace).get("status") or {}
    return status


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in status.get("conditions") or []:
        if cond["type"] == kind:
            found: dict[str, Any] = cond
            return found
    return {}


def ready(kube: Client, namespace: str, name: str) -> dict[str, Any] | None:
    status = status_of(kube, namespace, name)
    return status if condition(status, "Ready").get("status") == "True" else None


def create(
    kube: Client, namespace: str, name: str, spec: dict[str, Any], **annotations: str
) -> None:
    meta = {"name": name, "namespace": namespace, "annotations": annotations}
    kube.create(
        from_dict({"apiVersion": API_VERSION, "kind": "MiniChat", "metadata": meta, "spec": spec})
    )


def patch(kube: Client, name: str, change: dict[str, Any], *, namespace: str) -> None:
    kube.patch(MiniChat, name, change, namespace=namespace, patch_type=PatchType.MERGE)


def component(kube: Client, namespace: str, name: str, which: str) -> dict[str, Any]:
    labels: dict[str, Any] = {**instance_labels(name), "app.kubernetes.io/component": which}
    (found,) = kube.list(Deployment, namespace=namespace, labels=labels)
    return as_dict(found)


def image_of(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def kept_with_data(name: str) -> set[str]:
    """The generated Secrets that outlive the MiniChat unless its data is deleted too."""
    return {f"{name}-postgres", f"{name}-redis", f"{name}-rabbitmq"}


def claim_names(kube: Client, namespace: str) -> set[str]:
    return {
        as_dict(c)["metadata"]["name"]
        for c in kube.list(PersistentVolumeClaim, namespace=namespace)
    }


def wait_ready(
    kube: Client, namespace: str, name: str, operator: OperatorProcess
) -> dict[str, Any]:
    try:
        return eventually_blocking(
            lambda: ready(kube, namespace, name), f"MiniChat {name} to be Ready", 120
        )
    except BaseException:
        print(operator.logs()[-6000:])
        raise


def test_the_example_becomes_its_whole_stack_and_reports_ready(
    kube: Client, namespace: str, operator: OperatorProcess, control_plane: ControlPlane
) -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    example["metadata"]["namespace"] = namespace  # the file says chat; each test has its own
    applied = control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(example))
    assert applied.returncode == 0, applied.stderr
    name = example["metadata"]["name"]

    status = wait_ready(kube, namespace, name, operator)

    generation = kube.get(MiniChat, name, namespace=namespace)["metadata"]["generation"]
    assert status["observedGeneration"] == generation
    assert status["phase"] == "Ready"
    assert set(status["components"]) >= COMPONENTS
    for part, counts in status["components"].items():
        assert counts["ready"] == counts["desired"] >= 1, part
    for kind in ("DatabaseReady", "MigrationsApplied"):
        assert condition(status, kind)["status"] == "True"
    assert condition(status, "Degraded").get("status", "False") == "False"
    children = owned(kube, namespace, name)
    jobs = [key for key in children if key[0] == "Job"]
    assert len(jobs) == 1
    assert children[jobs[0]]["status"]["succeeded"] == 1
    for (kind, child), obj in children.items():
        if kind == "Secret" and child in kept_with_data(name):
            # A managed database's credentials stay with its volumes (kept by default).
            assert "ownerReferences" not in obj["metadata"]
            continue
        (owner,) = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("MiniChat", name, True)
    listed = control_plane.kubectl("-n", namespace, "get", "mc", name)
    assert "Ready" in listed.stdout


def test_a_second_reconcile_writes_nothing(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    create(kube, namespace, "quiet", {})
    wait_ready(kube, namespace, "quiet", operator)
    before = versions(owned(kube, namespace, "quiet"))

    # An annotation is a change Kopf hands to the operator, which must find nothing to do.
    patch(kube, "quiet", {"metadata": {"annotations": {"poke": "1"}}}, namespace=namespace)
    eventually_blocking(
        lambda: (
            "poke"
            in (
                kube.get(MiniChat, "quiet", namespace=namespace)["metadata"].get("annotations")
                or {}
            )
        ),
        "the annotation",
    )
    operator.wait_idle()

    assert versions(owned(kube, namespace, "quiet")) == before


def test_scaling_the_api_changes_only_the_api_deployment(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    create(kube, namespace, "scaled", {"api": {"replicas": 2}})
    wait_ready(kube, namespace, "scaled", operator)
    before = versions(owned(kube, namespace, "scaled"))
    api = component(kube, namespace, "scaled", "api")

    patch(kube, "scaled", {"spec": {"api": {"replicas": 3}}}, namespace=namespace)

    eventually_blocking(
        lambda: component(kube, namespace, "scaled", "api")["spec"]["replicas"] == 3,
        "the api Deployment to ask for 3 replicas",
    )
    operator.wait_idle()
    after = versions(owned(kube, namespace, "scaled"))
    changed = {key for key in after if after[key] != before.get(key)}
    # Only the api moves: its Deployment (and its rollout in its own status), and its
    # disruption budget, whose minAvailable follows the replicas.
    assert ("Deployment", api["metadata"]["name"]) in changed
    assert changed <= {
        ("Deployment", api["metadata"]["name"]),
        ("PodDisruptionBudget", api["metadata"]["name"]),
    }


def test_a_new_tag_migrates_before_it_rolls_out_and_a_failed_migration_degrades(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    create(kube, namespace, "upgrade", {"image": {"tag": "0.1.0"}})
    wait_ready(kube, namespace, "upgrade", operator)
    old_image = image_of(component(kube, namespace, "upgrade", "api"))

    patch(kube, "upgrade", {"spec": {"image": {"tag": "0.2.0-broken"}}}, namespace=namespace)

    def degraded() -> dict[str, Any] | None:
        # The Job retries (backoffLimit) before it fails for good; until then the components
        # that run the broken tag already (inference, web) are what is degraded.
        status = status_of(kube, namespace, "upgrade")
        failed = condition(status, "MigrationsApplied").get("reason") not in {
            None,
            "MigrationsRunning",
            "MigrationsSucceeded",
            "WaitingForDatabase",
        }
        return status if failed and condition(status, "Degraded").get("status") == "True" else None

    status = eventually_blocking(degraded, "Degraded after the failed migration", 240)
    assert "0.2.0-broken" in condition(status, "Degraded")["message"]
    assert status["version"] == "0.1.0"
    assert image_of(component(kube, namespace, "upgrade", "api")) == old_image

    patch(kube, "upgrade", {"spec": {"image": {"tag": "0.2.0"}}}, namespace=namespace)

    def upgraded() -> dict[str, Any] | None:
        status = ready(kube, namespace, "upgrade")
        return status if status and status.get("version") == "0.2.0" else None

    eventually_blocking(upgraded, "version 0.2.0 to be Ready", 120)
    assert image_of(component(kube, namespace, "upgrade", "api")).endswith(":0.2.0")
    jobs = [obj for (kind, _), obj in owned(kube, namespace, "upgrade").items() if kind == "Job"]
    finished = {image_of(job): job["status"] for job in jobs}
    assert finished[image_of(component(kube, namespace, "upgrade", "api"))]["succeeded"] == 1


def test_a_deleted_deployment_and_an_edited_service_are_restored(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    create(kube, namespace, "drift", {})
    wait_ready(kube, namespace, "drift", operator)
    worker = component(kube, namespace, "drift", "worker")["metadata"]
    service = next(
        obj for (kind, _), obj in owned(kube, namespace, "drift").items() if kind == "Service"
    )
    ports = service["spec"]["ports"]
    edited = [{**ports[0], "port": 1}]

    kube.delete(Deployment, worker["name"], namespace=namespace)
    kube.patch(
        Service,
        service["metadata"]["name"],
        {"spec": {"ports": edited}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )

    def restored() -> bool:
        children = owned(kube, namespace, "drift")
        back = children.get(("Deployment", worker["name"]))
        again = children[("Service", service["metadata"]["name"])]
        return (
            back is not None
            and back["metadata"]["uid"] != worker["uid"]
            and ([p["port"] for p in again["spec"]["ports"]] == [p["port"] for p in ports])
        )

    eventually_blocking(restored, "the Deployment and the Service to be restored", 30)


def test_a_restarted_operator_finishes_without_duplicates_and_keeps_its_secrets(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    create(kube, namespace, "restart", {})
    eventually_blocking(lambda: owned(kube, namespace, "restart"), "the first children", 30)
    operator.kill()
    operator.start()
    wait_ready(kube, namespace, "restart", operator)
    children = owned(kube, namespace, "restart")
    secrets = {key: obj["data"] for key, obj in children.items() if key[0] == "Secret"}
    assert secrets

    operator.stop()
    operator.start()
    patch(kube, "restart", {"metadata": {"annotations": {"poke": "2"}}}, namespace=namespace)
    operator.wait_idle()

    again = owned(kube, namespace, "restart")
    assert {key: obj["data"] for key, obj in again.items() if key[0] == "Secret"} == secrets
    assert len([key for key in again if key[0] == "Job"]) == 1
    assert set(again) == set(children)


@pytest.mark.parametrize("delete_data", [False, True])
def test_deleting_a_minichat_removes_its_children_and_its_data_only_when_asked(
    kube: Client, namespace: str, operator: OperatorProcess, delete_data: bool
) -> None:
    name = f"gone-{uuid.uuid4().hex[:4]}"
    annotations = {"minichat.dev/delete-data": "true"} if delete_data else {}
    create(kube, namespace, name, {}, **annotations)
    wait_ready(kube, namespace, name, operator)
    claims = claim_names(kube, namespace)
    assert claims

    kube.delete(MiniChat, name, namespace=namespace)

    def collected() -> set[tuple[str, str]]:
        return set(owned(kube, namespace, name))

    kept = set() if delete_data else {("Secret", secret) for secret in kept_with_data(name)}
    eventually_blocking(
        lambda: collected() == kept, "every child but the kept data to be collected", 60
    )
    if delete_data:
        eventually_blocking(
            lambda: not claim_names(kube, namespace), "the claims to be deleted", 60
        )
    else:
        assert claim_names(kube, namespace) == claims


def test_what_the_spec_no_longer_asks_for_is_removed(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    autoscaled = {"enabled": True, "minReplicas": 2, "maxReplicas": 4}
    create(kube, namespace, "pruned", {"api": {"replicas": 2, "autoscaling": autoscaled}})
    wait_ready(kube, namespace, "pruned", operator)
    kinds = {kind for kind, _ in owned(kube, namespace, "pruned")}
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds

    patch(
        kube,
        "pruned",
        {"spec": {"api": {"replicas": 1, "autoscaling": {"enabled": False}}}},
        namespace=namespace,
    )

    def gone() -> bool:
        kinds = {kind for kind, _ in owned(kube, namespace, "pruned")}
        return not kinds & {"HorizontalPodAutoscaler", "PodDisruptionBudget"}

    eventually_blocking(gone, "the autoscaler and the disruption budget to be removed", 30)
    assert component(kube, namespace, "pruned", "api")["spec"]["replicas"] == 1


def test_turning_autoscaling_on_keeps_the_running_replicas(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    create(kube, namespace, "handoff", {"api": {"replicas": 3}})
    wait_ready(kube, namespace, "handoff", operator)

    autoscaled = {"enabled": True, "minReplicas": 2, "maxReplicas": 6}
    patch(kube, "handoff", {"spec": {"api": {"autoscaling": autoscaled}}}, namespace=namespace)
    eventually_blocking(
        lambda: ("HorizontalPodAutoscaler", "handoff-api") in owned(kube, namespace, "handoff"),
        "the autoscaler",
    )
    operator.wait_idle()

    # The operator no longer sets replicas; they stay what ran until the autoscaler decides
    # (kwok serves no metrics), never the Deployment default of 1.
    assert component(kube, namespace, "handoff", "api")["spec"]["replicas"] == 3


def test_a_kind_the_cluster_lacks_is_reported_not_crashed_on(
    kube: Client, namespace: str, operator: OperatorProcess
) -> None:
    create(kube, namespace, "monitored", {"observability": {"serviceMonitor": True}})

    def reported() -> bool:
        status = status_of(kube, namespace, "monitored")
        return bool(status) and operator.is_alive()

    eventually_blocking(reported, "a status despite the missing ServiceMonitor kind", 60)
    # The status can be written before the handler's warning reaches the log file.
    eventually_blocking(
        lambda: "ServiceMonitor" in operator.logs(), "the missing kind named in the log", 30
    )

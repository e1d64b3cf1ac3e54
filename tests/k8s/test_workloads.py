"""The harness runs workloads for real: controllers, the scheduler and kwok's nodes roll out
Deployments, Jobs and StatefulSets, bind claims, and collect garbage."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.apps_v1 import Deployment, ReplicaSet, StatefulSet
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, PersistentVolumeClaim, Pod

from tests.eventually import eventually_blocking

pytestmark = pytest.mark.k8s

LABELS: dict[str, str] = {"app": "probe"}


def pod_template(**spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "example.invalid/probe:1"}
    return {"metadata": {"labels": LABELS}, "spec": {"containers": [container], **spec}}


def deployment(name: str, namespace: str, *, replicas: int) -> Any:
    return from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": LABELS},
                "template": pod_template(),
            },
        }
    )


def condition(obj: Any, kind: str) -> str | None:
    for cond in (obj.status.conditions or []) if obj.status else []:
        if cond.type == kind:
            return str(cond.status)
    return None


def test_a_deployment_becomes_available_with_ready_pods_on_kwok_nodes(
    kube: Client, namespace: str
) -> None:
    kube.create(deployment("web", namespace, replicas=2))

    def available() -> Deployment | None:
        found = kube.get(Deployment, "web", namespace=namespace)
        ready = found.status and found.status.readyReplicas == 2
        return found if ready and condition(found, "Available") == "True" else None

    eventually_blocking(available, "the Deployment to be Available with 2 ready replicas")
    pods = list(kube.list(Pod, namespace=namespace, labels={**LABELS}))
    assert len(pods) == 2
    for pod in pods:
        assert pod.spec and pod.spec.nodeName and pod.spec.nodeName.startswith("kwok-node-")
        assert pod.status and pod.status.phase == "Running"
        assert condition(pod, "Ready") == "True"


def test_a_job_pod_succeeds_and_the_job_completes(kube: Client, namespace: str) -> None:
    kube.create(
        from_dict(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "once", "namespace": namespace},
                "spec": {"backoffLimit": 0, "template": pod_template(restartPolicy="Never")},
            }
        )
    )

    eventually_blocking(
        lambda: condition(kube.get(Job, "once", namespace=namespace), "Complete") == "True",
        "the Job to complete",
    )
    (pod,) = kube.list(Pod, namespace=namespace, labels={"job-name": "once"})
    assert pod.status and pod.status.phase == "Succeeded"


@pytest.mark.parametrize("how", ["kwok-chaos-label", "broken-image"])
def test_a_pod_told_to_fail_fails_its_job(kube: Client, namespace: str, how: str) -> None:
    failing = pod_template(restartPolicy="Never")
    if how == "kwok-chaos-label":
        failing["metadata"]["labels"]["pod-container-running-failed.stage.kwok.x-k8s.io"] = "true"
    else:  # the harness's own stage (tests/k8s/cluster/stages/pod-image-broken.yaml)
        failing["spec"]["containers"][0]["image"] = "example.invalid/probe:1-broken"
    kube.create(
        from_dict(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "doomed", "namespace": namespace},
                "spec": {"backoffLimit": 0, "template": failing},
            }
        )
    )

    eventually_blocking(
        lambda: condition(kube.get(Job, "doomed", namespace=namespace), "Failed") == "True",
        "the Job to fail",
    )
    (pod,) = kube.list(Pod, namespace=namespace, labels={"job-name": "doomed"})
    assert pod.status and pod.status.phase == "Failed"


def test_deleting_an_owner_garbage_collects_its_dependents(kube: Client, namespace: str) -> None:
    owner = kube.create(ConfigMap(metadata=ObjectMeta(name="owner")), namespace=namespace)
    assert owner.metadata and owner.metadata.uid
    reference = OwnerReference(
        apiVersion="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    dependent = ConfigMap(metadata=ObjectMeta(name="dependent", ownerReferences=[reference]))
    kube.create(dependent, namespace=namespace)
    kube.create(deployment("web", namespace, replicas=1))
    eventually_blocking(lambda: list(kube.list(ReplicaSet, namespace=namespace)), "the ReplicaSet")

    kube.delete(ConfigMap, "owner", namespace=namespace)
    kube.delete(Deployment, "web", namespace=namespace)

    def gone() -> bool:
        try:
            kube.get(ConfigMap, "dependent", namespace=namespace)
        except ApiError as error:
            return error.status.code == 404
        return False

    eventually_blocking(gone, "the dependent ConfigMap to be collected")
    eventually_blocking(
        lambda: (
            not list(kube.list(ReplicaSet, namespace=namespace))
            and not list(kube.list(Pod, namespace=namespace))
        ),
        "the Deployment's ReplicaSet and Pods to be collected",
    )


def test_a_statefulset_with_a_claim_template_becomes_ready_with_its_claim_bound(
    kube: Client, namespace: str
) -> None:
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    template = pod_template()
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    kube.create(
        from_dict(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "db", "namespace": namespace},
                "spec": {
                    "replicas": 1,
                    "serviceName": "db",
                    "selector": {"matchLabels": LABELS},
                    "template": template,
                    "volumeClaimTemplates": [claim],
                },
            }
        )
    )

    def ready() -> bool:
        status = kube.get(StatefulSet, "db", namespace=namespace).status
        return status is not None and status.readyReplicas == 1

    eventually_blocking(ready, "the StatefulSet's replica to be ready")
    bound = kube.get(PersistentVolumeClaim, "data-db-0", namespace=namespace)
    assert bound.status and bound.status.phase == "Bound"
    assert bound.spec and bound.spec.storageClassName == "kwok-volume"

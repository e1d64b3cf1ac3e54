"""The harness's API server is the real one: its version, CRDs with CEL rules and a status
subresource, server-side apply's field ownership, and RBAC enforced on ServiceAccount tokens."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.authentication_v1 import SelfSubjectReview
from lightkube.resources.core_v1 import ConfigMap, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding
from lightkube.types import PatchType

from tests.eventually import eventually_blocking
from tests.k8s.harness import ControlPlane

pytestmark = pytest.mark.k8s

VERSIONS = Path(__file__).parent / "cluster" / "versions.env"


def pinned_kubernetes_version() -> str:
    for line in VERSIONS.read_text().splitlines():
        if line.startswith("KUBERNETES_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("versions.env names no KUBERNETES_VERSION")


def test_the_server_reports_the_pinned_release(control_plane: ControlPlane) -> None:
    version = json.loads(control_plane.kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == pinned_kubernetes_version()
    assert control_plane.kubectl("get", "--raw", "/readyz").stdout == "ok"


def crd_manifest(group: str) -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.min <= self.max", "message": "min must not be greater than max"}
        ],
    }
    status_schema = {"type": "object", "properties": {"phase": {"type": "string"}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"ranges.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "ranges", "singular": "range", "kind": "Range"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": spec_schema, "status": status_schema},
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture
def range_crd(kube: Client) -> Iterator[str]:
    group = f"t{uuid.uuid4().hex[:8]}.minichat.dev"
    crd = from_dict(crd_manifest(group))
    kube.create(crd)

    def established() -> bool:
        found = kube.get(CustomResourceDefinition, f"ranges.{group}")
        conditions = found.status.conditions if found.status else None
        return any(c.type == "Established" and c.status == "True" for c in conditions or [])

    eventually_blocking(established, "the CRD to be Established")
    yield group
    kube.delete(CustomResourceDefinition, f"ranges.{group}")


def test_a_crd_with_a_cel_rule_refuses_an_invalid_object_with_the_rules_message(
    kube: Client, namespace: str, range_crd: str
) -> None:
    Range = create_namespaced_resource(range_crd, "v1", "Range", "ranges")

    with pytest.raises(ApiError) as refused:
        kube.create(
            Range(metadata=ObjectMeta(name="bad"), spec={"min": 5, "max": 1}), namespace=namespace
        )

    assert refused.value.status.code == 422
    assert "min must not be greater than max" in str(refused.value.status.message)
    kube.create(
        Range(metadata=ObjectMeta(name="good"), spec={"min": 1, "max": 5}), namespace=namespace
    )


def test_the_status_subresource_ignores_status_in_a_spec_update(
    kube: Client, namespace: str, range_crd: str
) -> None:
    Range = create_namespaced_resource(range_crd, "v1", "Range", "ranges")
    created = kube.create(
        Range(metadata=ObjectMeta(name="r"), spec={"min": 1, "max": 2}), namespace=namespace
    )
    created["spec"]["max"] = 3
    created["status"] = {"phase": "Smuggled"}

    updated = kube.replace(created)

    assert updated["spec"]["max"] == 3
    assert "status" not in updated or updated["status"].get("phase") != "Smuggled"
    patched = kube.patch(
        Range.Status,
        "r",
        {"status": {"phase": "Ready"}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    assert patched["status"]["phase"] == "Ready"


def test_server_side_apply_is_a_no_op_when_repeated_and_refuses_a_conflicting_manager(
    kube: Client, namespace: str
) -> None:
    def settings(level: str) -> ConfigMap:
        meta = ObjectMeta(name="settings", namespace=namespace)
        return ConfigMap(metadata=meta, data={"level": level})

    first = kube.apply(settings("info"), field_manager="first")
    again = kube.apply(settings("info"), field_manager="first")
    assert first.metadata and again.metadata
    assert again.metadata.resourceVersion == first.metadata.resourceVersion

    rival = settings("debug")
    with pytest.raises(ApiError) as conflict:
        kube.apply(rival, field_manager="second")
    assert conflict.value.status.code == 409
    assert kube.get(ConfigMap, "settings", namespace=namespace).data == {"level": "info"}


def test_a_service_account_token_is_held_to_its_roles_verbs(
    kube: Client, namespace: str, control_plane: ControlPlane
) -> None:
    kube.create(ServiceAccount(metadata=ObjectMeta(name="reader")), namespace=namespace)
    kube.create(ConfigMap(metadata=ObjectMeta(name="visible")), namespace=namespace)
    rule = PolicyRule(apiGroups=[""], resources=["configmaps"], verbs=["get"])
    kube.create(Role(metadata=ObjectMeta(name="get-only"), rules=[rule]), namespace=namespace)
    binding = RoleBinding(
        metadata=ObjectMeta(name="reader-get-only"),
        roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name="get-only"),
        subjects=[Subject(kind="ServiceAccount", name="reader", namespace=namespace)],
    )
    kube.create(binding, namespace=namespace)

    issued = control_plane.kubectl("-n", namespace, "create", "token", "reader")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()

    with control_plane.client(token=token) as as_reader:
        found = as_reader.get(ConfigMap, "visible", namespace=namespace)
        with pytest.raises(ApiError) as forbidden:
            list(as_reader.list(ConfigMap, namespace=namespace))
        review = as_reader.create(SelfSubjectReview())
    assert found.metadata and found.metadata.name == "visible"
    assert forbidden.value.status.code == 403
    assert review.status and review.status.userInfo
    assert review.status.userInfo.username == f"system:serviceaccount:{namespace}:reader"

"""The renderers over a matrix of specs: deterministic, valid for Kubernetes 1.30 and 1.37 in
strict mode, labelled and owned, and no Secret's value anywhere but in its Secret."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from minichat_operator.render import GeneratedSecrets, render, to_yaml
from tests.unit.operator.builders import SPECS, UID, VALUES, by_kind, minichat, pod_specs, rendered

KUBERNETES_VERSIONS = ("1.30", "1.37")
COMPONENTS = {
    "api",
    "inference",
    "worker",
    "web",
    "relay",
    "postgres",
    "redis",
    "rabbitmq",
    "migrations",
}
KEPT_CREDENTIALS = {"demo-postgres", "demo-redis", "demo-rabbitmq"}
NOT_CORE = ("monitoring.coreos.com/",)


def all_objects(spec: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    return rendered(spec, **options).objects


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_the_same_input_renders_the_same_bytes(spec: dict[str, Any]) -> None:
    first = to_yaml(all_objects(spec))
    again = to_yaml(all_objects(json.loads(json.dumps(spec))))
    # The spec as the API server stores it (every default filled in) renders the same.
    stored = minichat(spec).spec.to_wire()
    assert first == again == to_yaml(all_objects(stored))


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_every_object_is_valid_for_kubernetes_in_strict_mode(
    spec: dict[str, Any], version: str
) -> None:
    objects = all_objects(spec)
    checked = 0
    for obj in objects:
        if obj["apiVersion"].startswith(NOT_CORE):
            continue
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_every_object_carries_the_labels(spec: dict[str, Any]) -> None:
    for obj in all_objects(spec):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "minichat"
        assert labels["app.kubernetes.io/instance"] == "demo"
        assert labels["app.kubernetes.io/part-of"] == "minichat"
        assert labels["app.kubernetes.io/managed-by"] == "minichat-operator"
        assert labels["app.kubernetes.io/component"] in COMPONENTS
        assert obj["metadata"]["namespace"] == "chat"
        for pod in [obj["spec"].get("template")] if "template" in obj.get("spec", {}) else []:
            assert pod["metadata"]["labels"] == labels
        for claim in obj.get("spec", {}).get("volumeClaimTemplates", []):
            assert claim["metadata"]["labels"] == labels


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_every_object_is_owned_by_the_minichat_but_kept_credentials(spec: dict[str, Any]) -> None:
    for obj in all_objects(spec):
        owners = obj["metadata"].get("ownerReferences", [])
        if obj["kind"] == "Secret" and obj["metadata"]["name"] in KEPT_CREDENTIALS:
            assert owners == []
            continue
        assert owners == [
            {
                "apiVersion": "minichat.dev/v1alpha1",
                "kind": "MiniChat",
                "name": "demo",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], obj["metadata"]["name"]


def test_with_the_delete_data_annotation_everything_is_owned_and_claims_go_too() -> None:
    objects = all_objects({}, annotations={"minichat.dev/delete-data": "true"})
    assert all(obj["metadata"].get("ownerReferences") for obj in objects)
    for statefulset in by_kind(objects, "StatefulSet").values():
        assert (
            statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
        )


def test_claims_are_kept_by_default() -> None:
    for statefulset in by_kind(all_objects({}), "StatefulSet").values():
        assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }


def test_rendering_without_a_uid_has_no_owner_references() -> None:
    objects = render(minichat({}, uid=""), VALUES, serving_tag="0.1.0").objects
    assert not any("ownerReferences" in obj["metadata"] for obj in objects)


SECRET_VALUES = [
    VALUES.jwt_secret,
    VALUES.postgres_password,
    VALUES.redis_password,
    VALUES.rabbitmq_password,
]


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_no_secret_value_appears_outside_its_secret(spec: dict[str, Any]) -> None:
    manifest = rendered(spec)
    assert {obj["kind"] for obj in manifest.generated} <= {"Secret"}
    assert not any(obj["kind"] == "Secret" for obj in manifest.applied)
    text = to_yaml(manifest.applied)
    for secret in SECRET_VALUES:
        assert secret not in text
    # Nor a URL with a password in it, whoever made the password.
    assert "://minichat:" not in text and "://:" not in text


def test_the_generated_secrets_hold_urls_made_of_their_passwords() -> None:
    secrets = by_kind(rendered({}).generated, "Secret")
    assert set(secrets) == {"demo-jwt", "demo-postgres", "demo-redis", "demo-rabbitmq"}
    assert secrets["demo-jwt"]["stringData"] == {"jwt-secret": VALUES.jwt_secret}
    postgres = secrets["demo-postgres"]["stringData"]
    assert postgres["url"] == (
        f"postgresql+psycopg://minichat:{VALUES.postgres_password}@demo-postgres:5432/minichat"
    )
    assert secrets["demo-redis"]["stringData"]["url"] == (
        f"redis://:{VALUES.redis_password}@demo-redis:6379/0"
    )
    assert secrets["demo-rabbitmq"]["stringData"]["url"] == (
        f"amqp://minichat:{VALUES.rabbitmq_password}@demo-rabbitmq:5672//"
    )


def test_random_values_are_fresh_and_long() -> None:
    one, two = GeneratedSecrets.random(), GeneratedSecrets.random()
    assert one != two
    assert len(one.jwt_secret) >= 32 and len(one.postgres_password) >= 32


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_every_pod_is_non_root_with_a_read_only_root_and_bounded(spec: dict[str, Any]) -> None:
    pods = [pod for obj in all_objects(spec) for pod in pod_specs(obj)]
    assert len(pods) >= 5
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["automountServiceAccountToken"] is False
        assert pod["enableServiceLinks"] is False
        mounted = set()
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"]
            assert "memory" in container["resources"]["limits"]
            mounted |= {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounted


def test_the_http_components_are_probed_on_readyz_and_healthz() -> None:
    deployments = by_kind(all_objects({}), "Deployment")
    for name in ("demo-api", "demo-inference", "demo-web"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (worker,) = deployments["demo-worker"]["spec"]["template"]["spec"]["containers"]
    assert worker["readinessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def test_names_fit_in_dns_labels_for_the_longest_name() -> None:
    long = "a" * 40
    objects = render(minichat({}, name=long), VALUES, serving_tag="0.1.0").objects
    for obj in objects:
        assert len(obj["metadata"]["name"]) <= 63
        if obj["kind"] == "StatefulSet":
            # Its Pods' controller-revision-hash label is <name>-<10 characters>.
            assert len(obj["metadata"]["name"]) + 11 <= 63

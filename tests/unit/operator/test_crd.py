"""The CRD file itself: names, status, printer columns, a description and a default on every
field, and the CEL rules with their messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.unit.operator import crd

# Fields with no default on purpose: a backing service's alternatives (exactly one is given;
# the parent's default picks managed), and the name of a Secret the user must give.
NO_DEFAULT = {
    ".postgres.managed",
    ".postgres.external",
    ".redis.managed",
    ".redis.external",
    ".rabbitmq.managed",
    ".rabbitmq.external",
    ".postgres.external.urlSecretRef",
    ".redis.external.urlSecretRef",
    ".rabbitmq.external.urlSecretRef",
    ".postgres.external.urlSecretRef.name",
    ".redis.external.urlSecretRef.name",
    ".rabbitmq.external.urlSecretRef.name",
}


def fields(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, child in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", child
        yield from fields(child, f"{path}.{name}")
        if isinstance(child.get("additionalProperties"), dict):
            yield from fields(child["additionalProperties"], f"{path}.{name}.*")
        if isinstance(child.get("items"), dict):
            yield from fields(child["items"], f"{path}.{name}[]")


def test_names_scope_and_version() -> None:
    resource = crd.crd()
    assert resource["apiVersion"] == "apiextensions.k8s.io/v1"
    assert resource["metadata"]["name"] == "minichats.minichat.dev"
    spec = resource["spec"]
    assert spec["group"] == "minichat.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "MiniChat"
    assert spec["names"]["plural"] == "minichats"
    assert spec["names"]["shortNames"] == ["mc"]
    version = crd.version()
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)


def test_status_is_a_subresource_that_keeps_kopfs_fields() -> None:
    version = crd.version()
    assert version["subresources"] == {"status": {}}
    status = crd.root_schema()["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True
    assert {"observedGeneration", "phase", "conditions", "components", "version", "url"} <= set(
        status["properties"]
    )
    assert status["properties"]["phase"]["enum"] == ["Pending", "Progressing", "Ready", "Degraded"]
    condition = status["properties"]["conditions"]["items"]
    assert set(condition["properties"]) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }


def test_printer_columns() -> None:
    columns = {c["name"]: c["jsonPath"] for c in crd.version()["additionalPrinterColumns"]}
    assert columns == {
        "Phase": ".status.phase",
        "Ready": ".status.ready",
        "Version": ".status.version",
        "URL": ".status.url",
        "Age": ".metadata.creationTimestamp",
    }


def test_every_field_has_a_description() -> None:
    missing = [path for path, schema in fields(crd.root_schema()) if not schema.get("description")]
    # apiVersion, kind and metadata are described by Kubernetes itself.
    assert [path for path in missing if path != ".metadata"] == []


def test_every_spec_field_has_a_default_so_an_empty_spec_is_complete() -> None:
    missing = {
        path
        for path, schema in fields(crd.spec_schema())
        if "default" not in schema and "*" not in path
    }
    assert missing == NO_DEFAULT


def test_strings_have_bounds_so_cel_costs_are_bounded() -> None:
    unbounded = [
        path
        for path, schema in fields(crd.spec_schema())
        if schema.get("type") == "string"
        and "maxLength" not in schema
        and "enum" not in schema
        and "pattern" not in schema
    ]
    assert unbounded == []


def test_the_cel_rules_and_their_messages() -> None:
    found = sorted(
        (path, rule["message"])
        for path, rule in crd.rules(crd.root_schema())
        if "oldSelf" not in rule["rule"]
    )
    assert found == sorted(
        [
            ("", "the name of a MiniChat must be at most 40 characters long"),
            ("", "the name of a MiniChat must be a DNS label (lower-case letters, digits and '-')"),
            (
                ".spec.api.autoscaling",
                "api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas",
            ),
            (
                ".spec.inference",
                "inference.upstream.url is required when inference.backend is openai",
            ),
            (
                ".spec.inference.upstream",
                "inference.upstream.url must not hold credentials; put the key in a Secret "
                "named by inference.upstream.apiKeySecretRef",
            ),
            (".spec.postgres", "postgres needs exactly one of managed or external"),
            (".spec.redis", "redis needs exactly one of managed or external"),
            (".spec.rabbitmq", "rabbitmq needs exactly one of managed or external"),
        ]
    )


def test_a_managed_volumes_size_and_class_cannot_change_once_it_exists() -> None:
    transitions = {
        path: (rule["rule"], rule["message"])
        for path, rule in crd.rules(crd.root_schema())
        if "oldSelf" in rule["rule"]
    }
    expected = {}
    for service in ("postgres", "redis", "rabbitmq"):
        storage = f"{service}.managed.storage"
        expected[f".spec.{storage}"] = (
            "self == oldSelf",
            f"{storage} cannot change once the volume exists; expand its PersistentVolumeClaim "
            "instead",
        )
        expected[f".spec.{storage}ClassName"] = (
            "self == oldSelf",
            f"{storage}ClassName cannot change once the volume exists",
        )
    assert transitions == expected


def test_an_external_service_names_a_secret_and_holds_no_url() -> None:
    for service in ("postgres", "redis", "rabbitmq"):
        external = crd.spec_schema()["properties"][service]["properties"]["external"]
        assert set(external["properties"]) == {"urlSecretRef"}
        assert set(external["properties"]["urlSecretRef"]["properties"]) == {"name", "key"}


def test_an_empty_resource_is_accepted_and_every_rule_evaluates() -> None:
    resource = {
        "apiVersion": "minichat.dev/v1alpha1",
        "kind": "MiniChat",
        "metadata": {"name": "demo"},
    }
    assert crd.refusals(resource) == []

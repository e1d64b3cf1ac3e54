"""The pydantic model of a MiniChat agrees with the CRD: the same defaults, field by field, and
the same verdict on every value at and past each bound, enum and pattern the CRD declares."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from minichat_operator.spec import MiniChat, MiniChatSpec
from tests.unit.operator import crd

EXTERNAL = {"urlSecretRef": {"name": "db-url"}}
SPECS: dict[str, dict[str, Any]] = {
    "empty": {},
    "empty parts": {"api": {}, "inference": {}, "postgres": {"managed": {}}, "auth": {}},
    "external": {"postgres": {"external": EXTERNAL}, "redis": {"external": EXTERNAL}},
    "some resources": {"api": {"resources": {"requests": {"cpu": 2}}}},
    "no limits": {"worker": {"resources": {"limits": {}}}},
    "openai": {"inference": {"backend": "openai", "upstream": {"url": "http://vllm:8000/v1"}}},
    "autoscaling": {"api": {"autoscaling": {"enabled": True, "maxReplicas": 3}}},
}


def resource(spec: dict[str, Any], name: str = "demo") -> dict[str, Any]:
    return {
        "apiVersion": "minichat.dev/v1alpha1",
        "kind": "MiniChat",
        "metadata": {"name": name, "namespace": "chat"},
        "spec": spec,
    }


def model_refuses(document: dict[str, Any]) -> bool:
    try:
        MiniChat.model_validate(document)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("given", SPECS.values(), ids=SPECS.keys())
def test_the_model_fills_in_the_crds_defaults(given: dict[str, Any]) -> None:
    assert MiniChatSpec.model_validate(given).to_wire() == crd.defaulted(crd.spec_schema(), given)


def test_an_empty_spec_is_the_default_model() -> None:
    assert MiniChatSpec() == MiniChatSpec.model_validate({})
    assert MiniChatSpec().to_wire() == crd.defaulted(crd.spec_schema(), {})


def _at(path: list[str], leaf: Any) -> dict[str, Any]:
    spec: dict[str, Any] = leaf
    for key in reversed(path):
        spec = {key: spec}
    return spec


def _probes(schema: dict[str, Any], path: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Values at and past every bound, enum, pattern and length limit of the spec's schema."""
    where = ".".join(path)
    if "minimum" in schema:
        for number in (schema["minimum"] - 1, schema["minimum"]):
            yield f"{where}={number}", _at(path, number)
    if "maximum" in schema:
        for number in (schema["maximum"], schema["maximum"] + 1):
            yield f"{where}={number}", _at(path, number)
    for choice in [*schema.get("enum", []), "Bogus"] if "enum" in schema else []:
        yield f"{where}={choice}", _at(path, choice)
    if "pattern" in schema:
        yield f"{where}=bad", _at(path, "not valid!")
    if "maxLength" in schema:
        yield f"{where}=long", _at(path, "a" * (schema["maxLength"] + 1))
    if schema.get("minLength"):
        yield f"{where}=empty", _at(path, "")
    if schema.get("type") == "boolean":
        yield f"{where}=true", _at(path, True)
    for name, child in (schema.get("properties") or {}).items():
        yield from _probes(child, [*path, name])
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _probes(schema["additionalProperties"], [*path, "cpu"])


PROBES = dict(_probes(crd.spec_schema(), []))


def test_the_probes_cover_the_schema() -> None:
    assert len(PROBES) > 80
    assert "api.replicas=101" in PROBES and "inference.backend=Bogus" in PROBES
    refused = [name for name, spec in PROBES.items() if crd.refusals(resource(spec))]
    # Both verdicts occur: past each bound refused, at it accepted.
    assert len(refused) > 30 and len(PROBES) - len(refused) > 10
    assert "api.replicas=101" in refused and "api.replicas=100" not in refused


@pytest.mark.parametrize("spec", PROBES.values(), ids=PROBES.keys())
def test_the_model_refuses_what_the_crd_refuses(spec: dict[str, Any]) -> None:
    document = resource(copy.deepcopy(spec))
    assert model_refuses(document) == bool(crd.refusals(document)), crd.refusals(document)


CEL_CASES = {
    "both": (
        {"postgres": {"managed": {}, "external": EXTERNAL}},
        "postgres needs exactly one of managed or external",
    ),
    "neither": ({"redis": {}}, "redis needs exactly one of managed or external"),
    "rabbitmq both": (
        {"rabbitmq": {"managed": {}, "external": EXTERNAL}},
        "rabbitmq needs exactly one of managed or external",
    ),
    "min over max": (
        {"api": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}},
        "api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas",
    ),
    "openai without url": (
        {"inference": {"backend": "openai"}},
        "inference.upstream.url is required when inference.backend is openai",
    ),
    "credentials in url": (
        {"inference": {"backend": "openai", "upstream": {"url": "https://me:pw@api.example/v1"}}},
        "inference.upstream.url must not hold credentials",
    ),
}


@pytest.mark.parametrize(("spec", "message"), CEL_CASES.values(), ids=CEL_CASES.keys())
def test_a_cel_rule_and_the_model_refuse_with_the_same_message(
    spec: dict[str, Any], message: str
) -> None:
    document = resource(spec)
    assert any(message in refusal for refusal in crd.refusals(document))
    with pytest.raises(ValidationError) as refused:
        MiniChat.model_validate(document)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("name", "refused"),
    [("demo", False), ("a" * 40, False), ("a" * 41, True), ("a.b", True), ("Demo", True)],
)
def test_the_name_must_leave_room_for_its_childrens_names(name: str, refused: bool) -> None:
    document = resource({}, name=name)
    assert bool(crd.refusals(document)) is refused
    assert model_refuses(document) is refused


def test_an_unknown_field_is_named_by_the_model() -> None:
    with pytest.raises(ValidationError) as refused:
        MiniChat.model_validate(resource({"api": {"replica": 3}}))
    assert refused.value.errors()[0]["loc"] == ("spec", "api", "replica")

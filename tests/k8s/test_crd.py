"""The MiniChat CRD on the real API server: accepted, `spec: {}` defaulted to a complete
MiniChat, and what it cannot serve refused at the door with the CEL rule's own message."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from lightkube import Client

from tests.k8s.harness import ControlPlane
from tests.k8s.operator_process import MiniChat, install_crd

pytestmark = pytest.mark.k8s


def apply(control_plane: ControlPlane, namespace: str, name: str, spec: dict[str, Any]) -> str:
    document = {
        "apiVersion": "minichat.dev/v1alpha1",
        "kind": "MiniChat",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    done = control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(document))
    return done.stderr if done.returncode else ""


def test_an_empty_spec_is_defaulted_to_a_complete_minichat(
    kube: Client, namespace: str, control_plane: ControlPlane
) -> None:
    install_crd(kube)
    assert apply(control_plane, namespace, "empty", {}) == ""

    spec = kube.get(MiniChat, "empty", namespace=namespace)["spec"]
    assert spec["image"]["tag"] and spec["api"]["replicas"] >= 1
    assert spec["inference"]["backend"] == "embedded"
    for backing in ("postgres", "redis", "rabbitmq"):
        assert "managed" in spec[backing] and "external" not in spec[backing]
    printed = control_plane.kubectl("-n", namespace, "get", "mc", "empty").stdout.split("\n")[0]
    assert printed.split() == ["NAME", "PHASE", "READY", "VERSION", "URL", "AGE"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"postgres": {"managed": {}, "external": {"urlSecretRef": {"name": "pg"}}}},
            "postgres needs exactly one of managed or external",
        ),
        (
            {"api": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}},
            "api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas",
        ),
        (
            {"inference": {"backend": "openai"}},
            "inference.upstream.url is required when inference.backend is openai",
        ),
        ({"inference": {"backend": "gpt"}}, 'Unsupported value: "gpt"'),
    ],
    ids=["managed-and-external", "autoscaling-bounds", "openai-without-url", "unknown-backend"],
)
def test_a_spec_it_cannot_serve_is_refused_with_the_rules_message(
    kube: Client, namespace: str, control_plane: ControlPlane, spec: dict[str, Any], message: str
) -> None:
    install_crd(kube)
    refused = apply(control_plane, namespace, "bad", spec)
    assert message in refused
    assert not list(kube.list(MiniChat, namespace=namespace))

"""The chart installed with the real helm into the real control plane: the operator Deployment
rolls out on a kwok node, the CRD is Established, the chart's own RBAC is enough for the
operator (run here as a process holding its ServiceAccount's token) to bring the chart's
instance to Ready, and upgrade and uninstall behave as Helm users expect."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace

from tests.eventually import eventually_blocking
from tests.k8s.harness import ROOT, ControlPlane
from tests.k8s.operator_process import MiniChat, operator_as

pytestmark = pytest.mark.k8s

CHART = ROOT / "charts" / "minichat"


def helm(control_plane: ControlPlane, *args: str) -> str:
    done = subprocess.run(
        [str(control_plane.tools / "helm"), "--kubeconfig", str(control_plane.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"helm {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def minichat_status(kube: Client, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = kube.get(MiniChat, name, namespace=namespace).get("status") or {}
    return status


def is_ready(status: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )


@pytest.fixture
def release(kube: Client, control_plane: ControlPlane) -> Iterator[tuple[str, str]]:
    name = f"mc{uuid.uuid4().hex[:6]}"
    namespace = f"chart-{name}"
    yield name, namespace
    subprocess.run(
        [
            str(control_plane.tools / "helm"),
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "uninstall",
            name,
            "-n",
            namespace,
            "--ignore-not-found",
        ],
        capture_output=True,
        check=False,
    )
    kube.delete(Namespace, namespace)


def test_install_runs_the_chart_instance_with_the_charts_rbac_then_upgrade_and_uninstall(
    kube: Client, control_plane: ControlPlane, release: tuple[str, str], tmp_path: Path
) -> None:
    name, namespace = release
    helm(
        control_plane,
        "install",
        name,
        str(CHART),
        "--namespace",
        namespace,
        "--create-namespace",
        "--set",
        "instance.enabled=true",
        "--wait",
        "--timeout",
        "120s",
    )

    operator_name = f"{name}-minichat-operator"
    deployment = kube.get(Deployment, operator_name, namespace=namespace)
    assert deployment.status and deployment.status.availableReplicas == 1
    crd = kube.get(CustomResourceDefinition, "minichats.minichat.dev")
    assert crd.status and any(
        c.type == "Established" and c.status == "True" for c in crd.status.conditions or []
    )

    # kwok runs no containers: the operator runs here, as the chart's ServiceAccount.
    operator = operator_as(control_plane, namespace, operator_name, tmp_path)
    operator.start()
    try:
        eventually_blocking(
            lambda: is_ready(minichat_status(kube, namespace, name)),
            "the chart's MiniChat to be Ready",
            120,
        )

        helm(
            control_plane,
            "upgrade",
            name,
            str(CHART),
            "--namespace",
            namespace,
            "--reuse-values",
            "--set",
            "instance.spec.image.tag=0.2.0",
            "--wait",
        )

        def upgraded() -> bool:
            status = minichat_status(kube, namespace, name)
            return is_ready(status) and status.get("version") == "0.2.0"

        eventually_blocking(upgraded, "the MiniChat to run 0.2.0", 120)
    finally:
        operator.stop()

    helm(control_plane, "uninstall", name, "--namespace", namespace, "--wait")

    eventually_blocking(
        lambda: (
            not list(kube.list(MiniChat, namespace=namespace))
            and not list(kube.list(Deployment, namespace=namespace))
        ),
        "the instance and the operator to be gone",
    )
    # Helm keeps what it installed from crds/: deleting the CRD would delete every MiniChat.
    assert kube.get(CustomResourceDefinition, "minichats.minichat.dev")

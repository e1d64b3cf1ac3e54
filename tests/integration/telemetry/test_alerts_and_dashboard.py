"""The chart's alert rules pass promtool's check and its unit tests, and every metric that a
dashboard panel or an alert names exists on the live /metrics of the processes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.telemetry.conftest import Traced
from tests.metrics import names, scrape

ROOT = Path(__file__).resolve().parents[3]
FILES = ROOT / "charts" / "minichat" / "files"
METRIC = re.compile(r"\bminichat_[a-z0-9_]+")


@pytest.fixture(scope="session")
def promtool() -> Path:
    built = subprocess.run(
        [str(ROOT / "scripts" / "promtool.sh"), "build"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip())


def _promtool(promtool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args], capture_output=True, text=True, timeout=120, check=False, cwd=FILES
    )


def test_promtool_checks_the_rules(promtool: Path) -> None:
    checked = _promtool(promtool, "check", "rules", "alerts.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout


def test_the_alerts_fire_on_what_they_are_about_and_only_then(promtool: Path) -> None:
    tested = _promtool(promtool, "test", "rules", "alerts.test.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _named_by_the_chart() -> dict[str, set[str]]:
    dashboard = json.loads((FILES / "dashboard.json").read_text())
    rules = yaml.safe_load((FILES / "alerts.yaml").read_text())
    named: dict[str, set[str]] = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for metric in METRIC.findall(target["expr"]):
                named.setdefault(metric, set()).add(f"panel {panel['title']!r}")
    for group in rules["groups"]:
        for rule in group["rules"]:
            for metric in METRIC.findall(rule["expr"]):
                named.setdefault(metric, set()).add(f"alert {rule['alert']}")
    return named


def test_every_metric_a_panel_or_an_alert_names_is_served(traced: Traced) -> None:
    served = set().union(
        names(scrape(f"{traced.api.url}/metrics")),
        names(scrape(f"{traced.inference.url}/metrics")),
        names(scrape(traced.worker_metrics_url)),
    )
    named = _named_by_the_chart()
    assert len(named) >= 15
    missing = {metric: users for metric, users in named.items() if metric not in served}
    assert not missing, f"named but not served: {missing}"

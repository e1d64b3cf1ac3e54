"""The whole product on a kind cluster, as a user with Docker runs it: kind, skaffold, the chart,
the operator, a chat through the api, and cleanup. Opt-in: it needs a container engine, kind and
skaffold (MINICHAT_E2E_KIND=1), which our CI machines do not have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.k8s.harness import ROOT

pytestmark = [pytest.mark.slow]

CLUSTER = "minichat-e2e"
NAMESPACE = "chat"


def needs() -> str | None:
    if os.environ.get("MINICHAT_E2E_KIND") != "1":
        return (
            "set MINICHAT_E2E_KIND=1 to run the kind end-to-end test (needs Docker, kind, skaffold)"
        )
    missing = [
        tool for tool in ("docker", "kind", "skaffold", "kubectl", "helm") if not shutil.which(tool)
    ]
    if missing:
        return f"the kind end-to-end test needs {', '.join(missing)} on PATH"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "the kind end-to-end test needs a running Docker engine (docker info failed)"
    return None


def run(*args: str, timeout: float = 1800) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def kind_cluster() -> Iterator[str]:
    if reason := needs():
        pytest.skip(reason)
    run(
        "kind",
        "create",
        "cluster",
        "--name",
        CLUSTER,
        "--config",
        "kind-config.yaml",
        "--wait",
        "120s",
    )
    try:
        yield f"kind-{CLUSTER}"
    finally:
        run("kind", "delete", "cluster", "--name", CLUSTER)


def post(url: str, body: dict[str, object], token: str | None = None) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, object] = json.load(response)
        return result


def test_skaffold_deploys_a_minichat_that_answers_and_cleans_up(kind_cluster: str) -> None:
    run("skaffold", "run", "--kube-context", kind_cluster, "--status-check=true")
    run(
        "kubectl",
        "--context",
        kind_cluster,
        "-n",
        NAMESPACE,
        "wait",
        "minichat/mc",
        "--for=condition=Ready",
        "--timeout=900s",
    )
    forward = subprocess.Popen(
        [
            "kubectl",
            "--context",
            kind_cluster,
            "-n",
            NAMESPACE,
            "port-forward",
            "service/mc-api",
            "18000:8000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)
        api = "http://127.0.0.1:18000/api"
        account = post(
            f"{api}/auth/register",
            {"email": "kind@example.com", "password": "correct horse battery"},
        )
        token = str(account["access_token"])
        chat = post(f"{api}/chats", {"title": "kind"}, token)
        post(f"{api}/chats/{chat['id']}/messages", {"content": "Say hello."}, token)
        generation = post(f"{api}/chats/{chat['id']}/generations", {}, token)
        deadline = time.monotonic() + 300
        status = ""
        while time.monotonic() < deadline and status not in {"succeeded", "failed", "canceled"}:
            request = urllib.request.Request(
                f"{api}/generations/{generation['id']}",
                headers={"Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                status = json.load(response)["status"]
            time.sleep(1)
        assert status == "succeeded"
    finally:
        forward.terminate()
    run("skaffold", "delete", "--kube-context", kind_cluster)
    left = run(
        "kubectl",
        "--context",
        kind_cluster,
        "-n",
        NAMESPACE,
        "get",
        "deployments,statefulsets,jobs",
        "-l",
        "app.kubernetes.io/part-of=minichat",
        "-o",
        "name",
    )
    assert left.strip() == ""

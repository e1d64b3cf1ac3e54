"""The web UI's end-to-end setup: the built UI, Debian's Chromium, scripted inference, an api."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, TEST_JWT_SECRET, ScratchDatabases
from tests.processes import Service, serve

REPO = Path(__file__).resolve().parents[3]
WEB = REPO / "web"
DIST = WEB / "dist"
CHROMIUM = os.environ.get("MINICHAT_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "web"

# Long enough to press Stop while it streams (about 4 s), short enough to wait for whole answers.
SCRIPTED_TOKENS = 120
SCRIPTED_INTERVAL_MS = 30
# Cuts a scripted answer twice: two Continues finish it.
SHORT_ANSWER_TOKENS = 50


def _missing(what: str) -> None:
    message = f"{what}; run scripts/web.sh (it installs Chromium and builds the UI)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class WebTools:
    node: str
    chromium: str


@pytest.fixture(scope="session")
def web_tools() -> WebTools:
    """Node, playwright-core, Chromium and web/dist: required under CI, else the test skips."""
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        _missing("web/node_modules has no playwright-core")
    if not (DIST / "index.html").is_file():
        _missing("web/dist is not built")
    if not Path(CHROMIUM).is_file():
        _missing(f"Chromium is not installed at {CHROMIUM}")
    assert node is not None
    return WebTools(node=node, chromium=CHROMIUM)


@pytest.fixture(scope="session")
def scripted_inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    env = {
        "INFERENCE_BACKEND": "scripted",
        "INFERENCE_SCRIPTED_TOKENS": str(SCRIPTED_TOKENS),
        "INFERENCE_SCRIPTED_INTERVAL_MS": str(SCRIPTED_INTERVAL_MS),
        "INFERENCE_MAX_CONCURRENCY": "16",
        "INFERENCE_MAX_QUEUE": "16",
    }
    with serve(["inference"], env, tmp_path_factory.mktemp("web-inference")) as service:
        yield service


def api_env(database_url: str, redis_prefix: str, inference_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "INFERENCE_URL": inference_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "WEB_DIST_DIR": str(DIST),
        # The shortest lifetime the api allows, so the UI's silent refresh runs during the test.
        "ACCESS_TOKEN_TTL_SECONDS": "30",
    }


@pytest.fixture
def web_api(
    web_tools: WebTools,
    database_url: str,
    redis_prefix: str,
    scripted_inference: Service,
    tmp_path: Path,
) -> Iterator[Service]:
    """An api serving the built UI, answering through the scripted model."""
    del web_tools  # only required first, so a missing tool fails before servers start
    env = api_env(database_url, redis_prefix, scripted_inference.url)
    with serve(["api"], env, tmp_path) as service:
        yield service


@pytest.fixture
def short_answers_api(
    web_tools: WebTools,
    test_databases: ScratchDatabases,
    redis_prefix: str,
    scripted_inference: Service,
    tmp_path: Path,
) -> Iterator[Service]:
    """An api whose answers stop after SHORT_ANSWER_TOKENS tokens (GENERATION_MAX_TOKENS)."""
    del web_tools
    database = test_databases.create(f"web_short_{uuid.uuid4().hex[:6]}")
    env = api_env(database, f"{redis_prefix}short:", scripted_inference.url)
    env["GENERATION_MAX_TOKENS"] = str(SHORT_ANSWER_TOKENS)
    with serve(["api"], env, tmp_path) as service:
        yield service


@pytest.fixture
def broken_api(
    web_tools: WebTools, test_databases: ScratchDatabases, redis_prefix: str, tmp_path: Path
) -> Iterator[Service]:
    """An api whose inference plane is unreachable, so answers fail. Its own database and keys:
    sharing them, the healthy api's reaper could adopt (and answer) its generations."""
    del web_tools
    database = test_databases.create(f"web_broken_{uuid.uuid4().hex[:6]}")
    env = api_env(database, f"{redis_prefix}broken:", "http://127.0.0.1:1")
    env["INFERENCE_CONNECT_TIMEOUT_SECONDS"] = "1"
    with serve(["api"], env, tmp_path) as service:
        yield service


def run_script(web_tools: WebTools, script: str, env: dict[str, str]) -> None:
    """Run web/e2e/<script> in node with Chromium; fail with its output unless it succeeds."""
    result = subprocess.run(
        [web_tools.node, f"e2e/{script}"],
        cwd=WEB,
        env={**os.environ, "MINICHAT_E2E_CHROMIUM": web_tools.chromium, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}{result.stderr}"

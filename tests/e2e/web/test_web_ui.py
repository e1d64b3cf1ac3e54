"""The web UI in real Chromium against real servers: web/e2e/run.mjs drives every screen."""

from __future__ import annotations

import os
import subprocess

import pytest

from minichat_inference.backends.scripted import scripted_text
from tests.e2e.web.conftest import ARTIFACTS, SCRIPTED_TOKENS, WEB, WebTools
from tests.processes import Service

pytestmark = pytest.mark.slow


def test_the_ui_end_to_end(web_tools: WebTools, web_api: Service, broken_api: Service) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [web_tools.node, "e2e/run.mjs"],
        cwd=WEB,
        env={
            **os.environ,
            "MINICHAT_E2E_URL": web_api.url,
            "MINICHAT_E2E_BROKEN_URL": broken_api.url,
            "MINICHAT_E2E_CHROMIUM": web_tools.chromium,
            "MINICHAT_E2E_ARTIFACTS": str(ARTIFACTS),
            "MINICHAT_E2E_ANSWER": scripted_text(SCRIPTED_TOKENS),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"web e2e failed:\n{output}\n--- api log ---\n{web_api.output()[-4000:]}"
    )
    for name in ("login", "chat-streaming-light", "chat-dark", "phone-light", "phone-dark"):
        assert (ARTIFACTS / f"{name}.png").is_file(), f"missing screenshot {name}.png\n{output}"

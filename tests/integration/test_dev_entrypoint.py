"""The dev image's entrypoint (skaffold's sync profile) as a real process: it runs a component
from a copy of MiniChat's packages and restarts it on a synced file, so the new code serves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.processes import free_port

ENTRYPOINT = Path(__file__).resolve().parents[2] / "scripts" / "dev-entrypoint.sh"


def served_version(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2) as page:
            version: str = json.load(page)["info"]["version"]
            return version
    except OSError:
        return None


def wait_for_version(port: int, wanted: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while served_version(port) != wanted:
        assert time.monotonic() < deadline, f"the inference plane never served version {wanted}"
        time.sleep(0.2)


def test_a_synced_python_file_restarts_the_component_on_the_new_code(tmp_path: Path) -> None:
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{venv_bin}:{os.environ['PATH']}",
        "MINICHAT_DEV_SRC": str(tmp_path / "src"),
        "INFERENCE_BACKEND": "scripted",
    }
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "inference", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        from minichat import __version__

        wait_for_version(port, __version__)
        synced = tmp_path / "src" / "minichat" / "__init__.py"
        synced.write_text(synced.read_text().replace(__version__, f"{__version__}+synced"))

        wait_for_version(port, f"{__version__}+synced")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)

"""`minichat up` keeps its children alive, and refuses a taken port before doing anything slow.

Real processes: `minichat up` on the scripted backend (the model is not what is tested here);
its inference child is killed with SIGKILL as the kernel's OOM killer would.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.factories import answered
from tests.integration.test_allinone import NO_SERVERS
from tests.processes import Service, run_command, serve

SCRIPTED = {**NO_SERVERS, "INFERENCE_BACKEND": "scripted", "INFERENCE_SCRIPTED_TOKENS": "8"}


def _until(condition: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _readyz(service: Service) -> httpx.Response:
    return httpx.get(f"{service.url}/readyz", timeout=5)


async def test_a_killed_model_server_is_restarted_and_answers_resume(tmp_path: Path) -> None:
    with serve(["up", "--data-dir", str(tmp_path / "data")], SCRIPTED, tmp_path) as up:
        assert _readyz(up).json()["checks"]["inference"] == "ok"
        (model_server,) = _children(up.process.pid)

        os.kill(model_server, signal.SIGKILL)

        _until(lambda: _readyz(up).status_code == 503, "not ready while the model server is down")
        assert _readyz(up).json()["checks"]["inference"] == "down"
        _until(lambda: _readyz(up).status_code == 200, "ready again")
        (restarted,) = _children(up.process.pid)
        assert restarted != model_server
        # The dead one was reaped: no zombie stays behind.
        assert not _exists(model_server)
        async with httpx.AsyncClient(base_url=up.url, timeout=60) as client:
            answer = await answered(client)
        assert answer.events[-1].data == {"status": "succeeded"}
        assert "the inference plane exited (killed by signal 9); restarting it in" in up.output()
        assert "the inference plane is serving again (restart 1)" in up.output()


def test_sigterm_to_up_alone_stops_its_model_server_too(tmp_path: Path) -> None:
    with serve(["up", "--data-dir", str(tmp_path / "data")], SCRIPTED, tmp_path) as up:
        (model_server,) = _children(up.process.pid)
        # The process alone, as `kill <pid>` or a service manager without group kill does.
        os.kill(up.process.pid, signal.SIGTERM)
        up.process.wait(timeout=30)
        _until(lambda: not _exists(model_server), "the model server stopped with up", 15)


def test_a_taken_port_is_one_line_naming_the_flag_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "data"
        result = run_command(["up", "--data-dir", str(data_dir), "--port", str(port)], SCRIPTED)

    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert f"port {port} on 127.0.0.1 is in use; choose another with --port" in line
    # Neither the database nor the model was touched.
    assert not data_dir.exists()

"""Start MiniChat commands as real processes for tests, and always stop them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MINICHAT = [sys.executable, "-m", "minichat_cli.main"]
# Tests do in seconds, all from 127.0.0.1, what people do in hours from many addresses; the
# limits' own tests set the limits they test.
TEST_LIMITS = {
    "LIMIT_CONCURRENT_ANSWERS": "1000",
    "LIMIT_MESSAGES_PER_MINUTE": "100000",
    "LIMIT_LOGINS_PER_ADDRESS_PER_MINUTE": "100000",
    "LIMIT_REGISTRATIONS_PER_ADDRESS_PER_HOUR": "100000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def run_command(
    args: list[str], env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MINICHAT, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def serve(
    args: list[str],
    env: Mapping[str, str],
    log_dir: Path,
    *,
    health_path: str = "/healthz",
    startup_timeout: float = 60,
) -> Iterator[Service]:
    """Run `minichat <args> --port <free>` for the block; fail with its log if it won't start."""
    port = free_port()
    log = log_dir / f"{args[0]}-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*MINICHAT, *args, "--port", str(port)],
            env={**os.environ, **TEST_LIMITS, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_healthy(service, health_path, startup_timeout)
        yield service
    finally:
        stop(service.process)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def _wait_healthy(service: Service, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{service.output()}")
        try:
            if httpx.get(service.url + path, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not healthy after {timeout}s:\n{service.output()}")

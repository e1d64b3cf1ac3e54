"""A child process of `minichat up` kept alive: one that exits is started again, after a pause
that doubles while it keeps dying, with a log line each time; `ready` says whether it serves now.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from minichat.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Pauses before restarts: `first`, doubled up to `longest`; back to `first` once a child
    has served for `stable_after` seconds."""

    first: float = 0.5
    longest: float = 30.0
    stable_after: float = 60.0


class SupervisedProcess:
    """`args` run as a child serving HTTP at `url`, watched by a thread once `start` returns."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        url: str,
        log: IO[bytes],
        start_timeout: float,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = dict(env)
        self.url = url
        self.log = log
        self.start_timeout = start_timeout
        self.backoff = backoff or Backoff()
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"supervise-{name}", daemon=True)

    @property
    def ready(self) -> bool:
        """Running and seen ready since its last start."""
        process = self._process
        return self._ready.is_set() and process is not None and process.poll() is None

    def start(self) -> None:
        """Start the child and wait until it is ready; a ConfigError if it dies first."""
        process = self._spawn()
        if not self._wait_ready(process):
            hung = process.poll() is None
            self.stop()
            if hung:
                raise ConfigError(f"the {self.name} was not ready after {self.start_timeout:.0f} s")
            raise ConfigError(f"the {self.name} stopped while starting; see {self.log.name}")
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._ready.clear()
        # Progress bars go to the terminal (stderr); the server's own lines to the log.
        self._process = subprocess.Popen(self.args, env=self.env, stdout=self.log, stderr=None)
        return self._process

    def _watch(self) -> None:
        pause = self.backoff.first
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            started = time.monotonic()
            code = process.wait()  # reaps it: a dead child never lingers as a zombie
            if self._stopping.is_set():
                return
            self._ready.clear()
            if time.monotonic() - started >= self.backoff.stable_after:
                pause = self.backoff.first
            logger.warning(
                "the %s exited (%s); restarting it in %.1f s", self.name, _describe(code), pause
            )
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, self.backoff.longest)
            self.restarts += 1
            restarted = self._spawn()
            if self._wait_ready(restarted):
                logger.warning("the %s is serving again (restart %d)", self.name, self.restarts)
            elif restarted.poll() is None and not self._stopping.is_set():
                # Alive but never ready: killed, so the next round starts it afresh.
                logger.warning("the %s was not ready in time; killing it", self.name)
                restarted.kill()

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            if process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        self._ready.set()
                        return True
            except OSError:  # refused, not ready yet (HTTPError), or timed out
                pass
            self._stopping.wait(0.25)
        return False


def _describe(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

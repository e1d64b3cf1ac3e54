"""`minichat up`: every part of MiniChat on one machine, with embedded defaults.

The same packages as production, on other URLs: SQLite for PostgreSQL, in-process streams for
Redis (`memory://`), the worker's own apply code called in-process for RabbitMQ (`memory://`),
and the inference plane as a child process running the embedded model. Settings given in the
environment win over these defaults, so any part can still be pointed at a real server.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from minichat.db import migrate
from minichat.errors import ConfigError
from minichat.settings import MEMORY_URL, CommonSettings, DatabaseUrl, InferenceBackend
from minichat_cli.supervisor import SupervisedProcess

if TYPE_CHECKING:
    from minichat_api.settings import ApiSettings
    from minichat_api.state import ReadinessCheck

_INFERENCE_START_SECONDS = 1800  # a first start assembles the model file


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "minichat"


class AllInOneSettings(CommonSettings):
    """What `minichat up` reads itself: every URL optional, an unset one gets its default."""

    database_url: DatabaseUrl | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    inference_url: str | None = None
    jwt_secret: SecretStr | None = None
    web_dist_dir: str | None = None
    inference_backend: InferenceBackend = "embedded"


def embedded_defaults(given: AllInOneSettings, data_dir: Path) -> dict[str, object]:
    """The api's settings that `given` leaves unset, as their embedded defaults (a persisted
    secret for JWT_SECRET), in local mode."""
    data_dir.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, object] = {"environment": "local"}
    if not given.database_url:
        defaults["database_url"] = f"sqlite+aiosqlite:///{data_dir / 'minichat.db'}"
    if not given.redis_url:
        defaults["redis_url"] = MEMORY_URL
    if not given.broker_url:
        defaults["broker_url"] = MEMORY_URL
    if given.jwt_secret is None:
        defaults["jwt_secret"] = SecretStr(_persisted_secret(data_dir / "jwt-secret"))
    if not given.web_dist_dir:
        bundled = bundled_web_ui()
        if bundled is not None:
            defaults["web_dist_dir"] = str(bundled)
    return defaults


def bundled_web_ui() -> Path | None:
    """The built web UI shipped inside this package (see scripts/build-web.sh)."""
    directory = Path(str(files("minichat_cli") / "web"))
    return directory if (directory / "index.html").is_file() else None


def _persisted_secret(path: Path) -> str:
    if path.is_file():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret


def run_migrations(database_url: str) -> None:
    print("==> migrating the database", flush=True)
    migrate.upgrade(database_url, report=lambda line: print(f"    {line}", flush=True))


@contextmanager
def inference_process(backend: InferenceBackend, data_dir: Path) -> Iterator[SupervisedProcess]:
    """The inference plane as a supervised child process on a free port, once it is ready."""
    port = _free_port()
    env = {**os.environ, "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    env.setdefault("INFERENCE_BACKEND", backend)
    print(f"==> starting the inference plane ({backend})", flush=True)
    with (data_dir / "inference.log").open("ab") as log:
        child = SupervisedProcess(
            "inference plane",
            [sys.executable, "-m", "minichat_cli.main", "inference", "--port", str(port)],
            env=env,
            url=f"http://127.0.0.1:{port}",
            log=log,
            start_timeout=_INFERENCE_START_SECONDS,
        )
        child.start()
        try:
            yield child
        finally:
            child.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def claim_port(host: str, port: int) -> socket.socket:
    """The api's listening socket, bound before anything slow starts, so a taken port is
    reported at once (uvicorn serves on this very socket)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        taken = exc.errno == errno.EADDRINUSE
        reason = "is in use" if taken else f"cannot be bound ({exc.strerror})"
        raise ConfigError(
            f"port {port} on {host} {reason}; choose another with --port (e.g. --port {port + 1})"
        ) from exc
    sock.listen(2048)
    return sock


async def serve_api(
    settings: ApiSettings,
    listening: socket.socket,
    readiness: Mapping[str, ReadinessCheck] | None = None,
) -> None:
    """The api on `listening` with the in-process event consumer, announced once it serves;
    `readiness`: what else its /readyz checks (the supervised children)."""
    import uvicorn

    from minichat_api.main import create_app
    from minichat_worker.aggregates import EventStore
    from minichat_worker.local import LocalEventSink

    store = EventStore.connect(settings.database_url, pool_size=2)
    sink = LocalEventSink(store)
    app = create_app(settings, event_sink=sink.deliver, readiness=readiness)
    server = uvicorn.Server(uvicorn.Config(app, log_level=settings.log_level.lower()))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    # uvicorn exposes only a flag for "listening"; poll it briefly.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if server.started:
        host, port = listening.getsockname()[:2]
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        print(f"==> MiniChat is running: open http://{shown}:{port}", flush=True)
    try:
        await serving
    finally:
        store.close()

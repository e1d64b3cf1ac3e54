"""Path traversal against the UI the api serves: raw request targets on a real uvicorn (a client
library would clean the dots up first) never get a file from outside the web build."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from minichat_api.settings import ApiSettings
from tests.integration.generations.conftest import running_api

INDEX = "<!doctype html><title>MiniChat</title>"

TARGETS = [
    "/../secret.txt",
    "/../../../../../../etc/passwd",
    "/assets/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/.%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/assets/..%2f..%2fsecret.txt",
    "/assets%2f..%2f..%2fsecret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..%5csecret.txt",
    "/assets/..%5c..%5csecret.txt",
    "/..\\secret.txt",
    "/assets\\..\\..\\secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/..%00/secret.txt",
    "/secret.txt%00.html",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/etc/passwd",
    "/{outside}/secret.txt",
    "/%2f{outside_encoded}%2fsecret.txt",
    "/assets/outside-link/secret.txt",
    "/assets/secret-link.txt",
    "/api/../secret.txt",
    "/api/..%2f..%2fsecret.txt",
    "../secret.txt",
    "http://127.0.0.1/../secret.txt",
]


@dataclass
class Served:
    port: int
    outside: Path
    marker: str


@pytest.fixture
async def served(settings: ApiSettings, tmp_path: Path) -> AsyncIterator[Served]:
    """The UI's build in tmp/dist, a secret beside it in tmp, and links from the build to it."""
    marker = f"TOP-SECRET-{uuid.uuid4().hex}"
    (tmp_path / "secret.txt").write_text(marker)
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (dist / "assets" / "outside-link").symlink_to(tmp_path)
    (dist / "assets" / "secret-link.txt").symlink_to(tmp_path / "secret.txt")
    app_settings = settings.model_copy(update={"web_dist_dir": str(dist)})
    async with running_api(app_settings) as http:
        yield Served(int(str(http.base_url).rsplit(":", 1)[1].strip("/")), tmp_path, marker)


async def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    """The status and body of `GET <target>` sent byte for byte as written."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_the_build_is_served(served: Served) -> None:
    assert await _raw_get(served.port, "/assets/app.js") == (200, b"console.log(1)")


@pytest.mark.parametrize("target", TARGETS)
async def test_no_file_outside_the_build_is_served(served: Served, target: str) -> None:
    target = target.format(
        outside=str(served.outside).strip("/"),
        outside_encoded=str(served.outside).strip("/").replace("/", "%2f"),
    )
    status, body = await _raw_get(served.port, target)
    assert served.marker.encode() not in body, target
    assert b"root:" not in body, target
    # Refused, not found, or the app's page (the SPA's fallback): nothing else.
    assert status in {200, 400, 404}, (target, status, body[:200])
    if status == 200:
        assert body == INDEX.encode(), (target, body[:200])

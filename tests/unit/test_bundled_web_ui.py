"""The web UI inside the package (served by `minichat up`) is the current build of web/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minichat_cli.allinone import bundled_web_ui

ROOT = Path(__file__).resolve().parents[2]
FRESH_BUILD = ROOT / "web" / "dist"


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file() and path.suffix != ".map"
    }


def test_bundled_web_ui_matches_a_fresh_build() -> None:
    bundled = bundled_web_ui()
    assert bundled is not None, "no web UI in the package: run scripts/build-web.sh"
    if not (FRESH_BUILD / "index.html").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("web/dist is missing: scripts/web.sh builds it before the tests")
        pytest.skip("web/dist not built here (scripts/web.sh builds it)")
    assert _files(bundled) == _files(FRESH_BUILD), (
        "the bundled web UI is stale: run scripts/build-web.sh and commit "
        "services/cli/minichat_cli/web"
    )

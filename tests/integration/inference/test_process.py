"""`minichat inference` and `minichat model` as real processes, as the Dockerfile runs them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from minichat_inference.backends.scripted import scripted_text
from tests.processes import run_command, serve

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_scripted_inference_process_streams(tmp_path: Path) -> None:
    env = {"INFERENCE_BACKEND": "scripted", "INFERENCE_SCRIPTED_TOKENS": "6"}
    with serve(["inference"], env, tmp_path) as service:
        assert httpx.get(f"{service.url}/readyz").status_code == 200
        lines: list[str] = []
        with httpx.stream(
            "POST",
            f"{service.url}/v1/chat/completions",
            json={"messages": QUESTION, "stream": True},
            timeout=30,
        ) as response:
            assert response.status_code == 200
            lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        metrics = httpx.get(f"{service.url}/metrics").text
    assert lines[-1] == "[DONE]"
    text = "".join(
        json.loads(line)["choices"][0]["delta"].get("content", "") for line in lines[:-1]
    )
    assert text == scripted_text(6)
    assert "minichat_inference_generated_tokens_total" in metrics


@pytest.mark.model
def test_embedded_inference_process_answers(tmp_path: Path) -> None:
    env = {"INFERENCE_BACKEND": "embedded", "INFERENCE_THREADS": "2"}
    with serve(["inference"], env, tmp_path, startup_timeout=120) as service:
        response = httpx.post(
            f"{service.url}/v1/chat/completions",
            json={"messages": QUESTION, "max_tokens": 12, "temperature": 0},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    assert "Paris" in response.json()["choices"][0]["message"]["content"]


def test_openai_backend_without_upstream_refuses_to_start() -> None:
    result = run_command(
        ["inference"], {"INFERENCE_BACKEND": "openai", "INFERENCE_UPSTREAM_URL": ""}, timeout=60
    )
    assert result.returncode == 2
    assert "INFERENCE_UPSTREAM_URL is not set" in result.stderr


def test_unknown_backend_is_named() -> None:
    result = run_command(["inference"], {"INFERENCE_BACKEND": "gpt"}, timeout=60)
    assert result.returncode == 2
    assert "INFERENCE_BACKEND" in result.stderr


@pytest.mark.model
def test_model_pull_then_path(tmp_path: Path) -> None:
    env = {"MODEL_CACHE_DIR": str(tmp_path / "models")}
    pulled = run_command(["model", "pull"], env)
    assert pulled.returncode == 0, pulled.stderr
    assert "100%" in pulled.stderr  # the progress bar reached the end
    path = Path(run_command(["model", "path"], env).stdout.strip())
    assert path.parent == tmp_path / "models"
    assert path.stat().st_size > 200_000_000
    assert f"model ready (sha256 verified): {path}" in pulled.stdout
    # A second pull trusts the verified file and does not assemble again.
    again = run_command(["model", "pull"], env)
    assert again.returncode == 0
    assert "100%" not in again.stderr

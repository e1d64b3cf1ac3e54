"""The `minichat` command line: help, bad flags, and configuration errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from minichat_cli.main import build_parser, main


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("    ")}
    assert {"up", "api", "inference", "migrate", "model", "worker", "relay"} <= listed


def test_bad_flag_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["api", "--port", "not-a-number"])
    assert exit_.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def test_api_defaults() -> None:
    args = build_parser().parse_args(["api"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)


def test_missing_database_url_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert main(["api"]) == 2
    err = capsys.readouterr().err
    assert "DATABASE_URL is not set" in err
    assert "JWT_SECRET is not set" in err

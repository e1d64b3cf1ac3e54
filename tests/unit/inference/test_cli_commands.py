"""The `minichat inference` and `minichat model` commands' arguments."""

from __future__ import annotations

import pytest

from minichat_cli.main import build_parser


def test_inference_defaults() -> None:
    args = build_parser().parse_args(["inference"])
    assert (args.host, args.port) == ("127.0.0.1", 8001)


def test_inference_port() -> None:
    args = build_parser().parse_args(["inference", "--host", "0.0.0.0", "--port", "9001"])
    assert (args.host, args.port) == ("0.0.0.0", 9001)


def test_model_actions() -> None:
    assert build_parser().parse_args(["model", "pull"]).reverify is False
    assert build_parser().parse_args(["model", "pull", "--reverify"]).reverify is True
    assert build_parser().parse_args(["model", "path"]).action == "path"


def test_model_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["model"])
    assert exit_.value.code == 2
    assert "ACTION" in capsys.readouterr().err

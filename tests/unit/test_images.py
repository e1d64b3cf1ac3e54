"""The Dockerfile's images start real `minichat` subcommands, as the operator and chart run them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from minichat_cli.main import build_parser

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def commands_by_target() -> dict[str, list[str]]:
    commands: dict[str, list[str]] = {}
    target = ""
    for line in DOCKERFILE.read_text().splitlines():
        if stage := re.match(r"FROM \S+ AS (\S+)", line):
            target = stage[1]
        elif line.startswith("CMD "):
            commands[target] = json.loads(line.removeprefix("CMD "))
    return commands


def test_every_python_image_runs_a_minichat_subcommand() -> None:
    commands = commands_by_target()
    # The web image is nginx's own command; every other image is one of ours.
    assert set(commands) == {"operator", "minichat"}
    parser = build_parser()
    for target, argv in commands.items():
        assert argv[0] == "minichat", target
        parsed = parser.parse_args(argv[1:])
        assert parsed.command == argv[1], target


def test_the_default_target_is_the_image_that_runs_every_component() -> None:
    last_stage = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")]
    assert last_stage[-1].endswith(" AS minichat")

"""The Dockerfile's images start real `minichat` subcommands, as the operator and chart run them:
the entrypoint is `minichat`, so a Pod's args (`[api, --host, ...]`) name the subcommand."""

from __future__ import annotations

import json
import re
from pathlib import Path

from minichat_cli.main import build_parser

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def stages() -> dict[str, dict[str, list[str]]]:
    """ENTRYPOINT and CMD of every stage, each inherited from the stage it is built FROM."""
    found: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in DOCKERFILE.read_text().splitlines():
        if stage := re.match(r"FROM (\S+) AS (\S+)", line):
            current = dict(found.get(stage[1], {}))
            found[stage[2]] = current
        elif instruction := re.match(r"(ENTRYPOINT|CMD) (\[.*\])$", line):
            current[instruction[1]] = json.loads(instruction[2])
    return found


def test_every_python_image_runs_a_minichat_subcommand() -> None:
    images = {name: stage for name, stage in stages().items() if "ENTRYPOINT" in stage}
    # The web image is nginx's own; dev wraps the same command for skaffold's sync profile.
    assert set(images) == {"operator", "app", "dev", "minichat"}
    parser = build_parser()
    for target in ("operator", "minichat"):
        argv = images[target]["ENTRYPOINT"] + images[target]["CMD"]
        assert argv[0] == "minichat", target
        assert parser.parse_args(argv[1:]).command == argv[1], target
    assert images["dev"]["ENTRYPOINT"] == ["minichat-dev"]
    assert images["dev"]["CMD"] == images["minichat"]["CMD"]


def test_the_default_target_is_the_image_that_runs_every_component() -> None:
    last_stage = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")]
    assert last_stage[-1] == "FROM app AS minichat"


def test_every_container_the_operator_runs_from_the_image_is_a_minichat_subcommand() -> None:
    from minichat_operator.render import GeneratedSecrets, render
    from minichat_operator.spec import MiniChat

    minichat = MiniChat.model_validate({"metadata": {"name": "demo", "namespace": "chat"}})
    values = GeneratedSecrets("jwt", "pg", "redis", "amqp")
    repository = minichat.spec.image.repository
    parser = build_parser()
    seen = set()
    for obj in render(minichat, values, serving_tag=minichat.spec.image.tag).objects:
        template = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in template.get("containers", []):
            if not container["image"].startswith(f"{repository}:"):
                continue  # databases, the broker and the UI run their own images
            assert "command" not in container, "the image's entrypoint is minichat"
            parsed = parser.parse_args(container["args"])
            seen.add(parsed.command)
    assert seen == {"api", "inference", "worker", "migrate"}

"""The example resources and `minichat operator render`: both examples are accepted by the CRD
and render valid objects; a bad file is one line naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from minichat_cli.main import main
from minichat_operator.documents import load
from tests.unit.operator import crd

EXAMPLES = sorted((crd.ROOT / "examples").glob("*.yaml"))


def test_there_are_both_examples() -> None:
    assert {path.name for path in EXAMPLES} >= {"minichat.yaml", "minichat-external.yaml"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_the_crd_accepts_each_example(example: Path) -> None:
    (document,) = yaml.safe_load_all(example.read_text())
    assert crd.refusals(document) == []


def render_cli(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["operator", "render", *args])
    out, err = capsys.readouterr()
    return code, [doc for doc in yaml.safe_load_all(out) if doc], err


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_render_prints_every_object_valid_for_kubernetes(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, objects, err = render_cli(capsys, "-f", str(example))
    assert (code, err) == (0, "")
    assert {"Deployment", "Service", "Job", "Secret"} <= {obj["kind"] for obj in objects}
    for obj in objects:
        kubernetes_validate.validate(obj, "1.37", strict=True)


def test_the_managed_example_runs_everything_and_the_external_one_no_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, managed, _ = render_cli(capsys, "-f", str(crd.ROOT / "examples" / "minichat.yaml"))
    _, external, _ = render_cli(capsys, "-f", str(crd.ROOT / "examples" / "minichat-external.yaml"))
    statefulsets = {o["metadata"]["name"] for o in managed if o["kind"] == "StatefulSet"}
    assert statefulsets == {"demo-postgres", "demo-redis", "demo-rabbitmq"}
    assert not any(o["kind"] == "StatefulSet" for o in external)
    (inference,) = (
        o
        for o in external
        if o["metadata"]["name"] == "team-inference" and o["kind"] == "Deployment"
    )
    env = {e["name"]: e for e in inference["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["INFERENCE_BACKEND"]["value"] == "openai"
    assert "valueFrom" in env["INFERENCE_UPSTREAM_API_KEY"]


def test_render_is_the_same_but_for_generated_values(capsys: pytest.CaptureFixture[str]) -> None:
    example = str(crd.ROOT / "examples" / "minichat.yaml")
    _, first, _ = render_cli(capsys, "-f", example)
    _, second, _ = render_cli(capsys, "-f", example)
    assert [o for o in first if o["kind"] != "Secret"] == [
        o for o in second if o["kind"] != "Secret"
    ]
    passwords = {o["metadata"]["name"]: o["stringData"] for o in first if o["kind"] == "Secret"}
    again = {o["metadata"]["name"]: o["stringData"] for o in second if o["kind"] == "Secret"}
    assert passwords.keys() == again.keys() and passwords != again


def test_render_takes_the_namespace_from_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = str(crd.ROOT / "examples" / "minichat.yaml")
    _, objects, _ = render_cli(capsys, "-f", example, "--namespace", "elsewhere")
    assert {o["metadata"]["namespace"] for o in objects} == {"elsewhere"}


BAD = {
    "bound": (
        "spec:\n  api: {replicas: 500}\n",
        "spec.api.replicas: Input should be less than or equal to 100",
    ),
    "rule": (
        "spec:\n  inference: {backend: openai}\n",
        "spec.inference: inference.upstream.url is required when inference.backend is openai",
    ),
    "typo": ("spec:\n  api: {replica: 3}\n", "spec.api.replica: Extra inputs are not permitted"),
    "both": (
        "spec:\n  redis: {managed: {}, external: {urlSecretRef: {name: r}}}\n",
        "spec.redis: redis needs exactly one of managed or external",
    ),
}
HEADER = "apiVersion: minichat.dev/v1alpha1\nkind: MiniChat\nmetadata: {name: demo}\n"


@pytest.mark.parametrize(("body", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_file_is_one_line_naming_the_field(
    body: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + body)
    code, objects, err = render_cli(capsys, "-f", str(path))
    assert (code, objects) == (2, [])
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"minichat operator render: {path}: ")
    assert message in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Deployment\napiVersion: apps/v1\n", "expected apiVersion minichat.dev/v1alpha1"),
        ("spec: [unclosed\n", "not valid YAML at line"),
        ("", "no MiniChat in it"),
        (
            HEADER + "---\n" + HEADER + "spec: {web: {replicas: -1}}\n",
            "document 2: spec.web.replicas",
        ),
    ],
)
def test_what_is_not_a_minichat_is_named(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    code, _, err = render_cli(capsys, "-f", str(path))
    assert code == 2 and message in err and err.count("\n") == 1


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = render_cli(capsys, "-f", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert err == f"minichat operator render: {tmp_path / 'nope.yaml'}: No such file or directory\n"


def test_several_minichats_in_one_file_render_together() -> None:
    text = HEADER + "---\n" + HEADER.replace("demo", "other")
    assert [m.metadata.name for m in load(text)] == ["demo", "other"]

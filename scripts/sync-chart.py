"""Keeps the Helm chart in step with its sources; `--check` only reports what is out of step.

- charts/minichat/crds/ holds a byte-identical copy of crds/minichat.dev_minichats.yaml;
- values.schema.json's instance.spec is the CRD's spec schema, strict (unknown keys refused);
- charts/minichat/README.md's table of values is generated from values.yaml's `## @param` lines.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "minichat"
CRD = ROOT / "crds" / "minichat.dev_minichats.yaml"
PARAM = re.compile(r"^\s*## @param (\S+) (.+)$")
SECTION = re.compile(r"^\s*## @section (.+)$")


def strict(schema: Any) -> Any:
    """The CRD's OpenAPI schema as JSON schema that refuses keys the CRD would prune."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    closed = not schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in schema and "additionalProperties" not in schema and closed:
        out["additionalProperties"] = False
    return out


def spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = (v for v in crd["spec"]["versions"] if v.get("storage"))
    result: dict[str, Any] = strict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])
    return result


def values_schema() -> str:
    path = CHART / "values.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["instance"]["properties"]["spec"] = spec_schema()
    return json.dumps(schema, indent=2) + "\n"


def default_of(values: dict[str, Any], dotted: str) -> str:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return json.dumps(node)


def readme() -> str:
    source = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(source)
    lines = [
        "# MiniChat Helm chart",
        "",
        (CHART / "README.intro.md").read_text().strip(),
        "",
        "## Values",
        "",
        "Generated from the `## @param` lines of `values.yaml` by `scripts/sync-chart.py`.",
    ]
    for line in source.splitlines():
        if section := SECTION.match(line):
            lines += ["", f"### {section[1]}", "", "| value | meaning | default |", "|---|---|---|"]
        elif param := PARAM.match(line):
            default = default_of(values, param[1]).replace("|", "\\|")
            lines.append(f"| `{param[1]}` | {param[2]} | `{default}` |")
    return "\n".join(lines) + "\n"


def wanted() -> dict[Path, bytes]:
    return {
        CHART / "crds" / CRD.name: CRD.read_bytes(),
        CHART / "values.schema.json": values_schema().encode(),
        CHART / "README.md": readme().encode(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args()
    files = wanted()
    stale = [
        path for path, content in files.items() if not path.exists() or path.read_bytes() != content
    ]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of step; run python3 scripts/sync-chart.py")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The MiniChat CRD as the API server uses it, done in-process for the tests: its structural
schema (defaults, then validation) and its CEL rules (evaluated with cel-python)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml
from celpy import celtypes
from celpy.adapter import json_to_cel

ROOT = Path(__file__).resolve().parents[3]
CRD_PATH = ROOT / "crds" / "minichat.dev_minichats.yaml"


@functools.cache
def crd() -> dict[str, Any]:
    """The CRD file, read once (callers must not change it)."""
    loaded: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return loaded


def version() -> dict[str, Any]:
    (served,) = crd()["spec"]["versions"]
    result: dict[str, Any] = served
    return result


def root_schema() -> dict[str, Any]:
    schema: dict[str, Any] = version()["schema"]["openAPIV3Schema"]
    return schema


def spec_schema() -> dict[str, Any]:
    schema: dict[str, Any] = root_schema()["properties"]["spec"]
    return schema


def defaulted(schema: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's defaults filled in, as the API server does: a default that is
    filled in gets its own fields' defaults too."""
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        for name, child in (schema.get("properties") or {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = defaulted(child, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            known = schema.get("properties") or {}
            for key in value:
                if key not in known:
                    value[key] = defaulted(extra, value[key])
    elif isinstance(value, list) and "items" in schema:
        value = [defaulted(schema["items"], item) for item in value]
    return value


def _as_json_schema(schema: Any) -> Any:
    """OpenAPI v3 as JSON Schema, closed where the API server prunes unknown fields."""
    if isinstance(schema, list):
        return [_as_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _as_json_schema(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    out.pop("default", None)
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    open_ = schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in schema and "additionalProperties" not in schema and not open_:
        out["additionalProperties"] = False
    return out


@functools.cache
def _root_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(_as_json_schema(root_schema()))


def structural_errors(value: Any) -> list[str]:
    """What the API server's schema validation says of a whole (defaulted) resource."""
    validator = _root_validator()
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(value)
    ]


def rules(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every x-kubernetes-validations rule with the schema path it sits at."""
    for rule in schema.get("x-kubernetes-validations") or []:
        yield path, rule
    for name, child in (schema.get("properties") or {}).items():
        yield from rules(child, f"{path}.{name}")


_ENV = celpy.Environment()


@functools.cache
def _program(rule: str) -> celpy.Runner:
    return _ENV.program(_ENV.compile(rule))


def cel_failures(schema: dict[str, Any], value: Any) -> list[str]:
    """The messages of the CEL rules a new `value` breaks (value defaulted already)."""
    failed = []
    for rule in schema.get("x-kubernetes-validations") or []:
        if "oldSelf" in rule["rule"]:
            continue  # a transition rule: the API server checks it on updates only
        result = _program(rule["rule"]).evaluate({"self": json_to_cel(value)})
        if not isinstance(result, celtypes.BoolType):
            raise AssertionError(f"rule {rule['rule']!r} did not evaluate: {result!r}")
        if not result:
            failed.append(str(rule["message"]))
    if isinstance(value, dict):
        for name, child in (schema.get("properties") or {}).items():
            if name in value:
                failed.extend(cel_failures(child, value[name]))
    return failed


def refusals(resource: dict[str, Any]) -> list[str]:
    """Why the API server would refuse `resource` (empty when it would accept it)."""
    schema = root_schema()
    stored = defaulted(schema, resource)
    errors = structural_errors(stored)
    if errors:
        return errors  # the API server stops before CEL when the structure is wrong
    return cel_failures(schema, stored)

"""MiniChat resources read from YAML text; what is wrong with one is a single line naming the
field, as the API server would name it."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from minichat_operator.spec import API_VERSION, KIND, MiniChat


class DocumentError(ValueError):
    """A file that holds no usable MiniChat; str() is the one line to show."""


def describe(error: ValidationError) -> str:
    """Every problem of `error` on one line: `spec.api.replicas: Input should be ...`."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def parse(document: Any, *, namespace: str | None = None) -> MiniChat:
    if not isinstance(document, dict):
        raise DocumentError("a MiniChat is a mapping with apiVersion, kind, metadata and spec")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        found = f"{document.get('apiVersion')} {document.get('kind')}"
        raise DocumentError(f"expected apiVersion {API_VERSION} and kind {KIND}, found {found}")
    if namespace is not None:
        document = {
            **document,
            "metadata": {**(document.get("metadata") or {}), "namespace": namespace},
        }
    if document.get("spec") is None:
        document = {**document, "spec": {}}  # `spec:` with nothing after it, as the CRD allows
    try:
        return MiniChat.model_validate(document)
    except ValidationError as error:
        raise DocumentError(describe(error)) from None


def load(text: str, *, namespace: str | None = None) -> list[MiniChat]:
    """Every MiniChat in a (multi-document) YAML text."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DocumentError(f"not valid YAML{where}") from None
    if not documents:
        raise DocumentError("no MiniChat in it")
    found = []
    for number, document in enumerate(documents, start=1):
        try:
            found.append(parse(document, namespace=namespace))
        except DocumentError as error:
            prefix = f"document {number}: " if len(documents) > 1 else ""
            raise DocumentError(f"{prefix}{error}") from None
    return found

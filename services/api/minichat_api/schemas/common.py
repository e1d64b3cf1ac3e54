"""Shapes shared by every resource: pages of items, the error body, and text we can store."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import AfterValidator, BaseModel

T = TypeVar("T")


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


# PostgreSQL text cannot hold U+0000: refused as input, it is a 422 naming the field, not a 500.
NoNul = AfterValidator(_without_nul)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail

"""Bodies of the usage route: the caller's aggregates by UTC day and model."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class UsagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    succeeded: int
    failed: int
    canceled: int


class UsagesPublic(BaseModel):
    items: list[UsagePublic]

"""The one place where errors become HTTP responses: `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from minichat.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    MiniChatError,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[MiniChatError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    ConfigError: 500,
    Unavailable: 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    detail.update(extra)
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


def status_of(error: MiniChatError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 500


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MiniChatError)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    status = status_of(exc)
    if status >= 500:
        logger.error("request failed: %s", exc.message)
    return error_response(status, exc.code, exc.message, exc.field, headers or None, **exc.details)


def field_of(location: Sequence[int | str]) -> str | None:
    """`("body", "items", 0, "text")` -> `items.0.text`; `("query", "limit")` -> `limit`."""
    parts = [str(p) for p in location[1:]] if len(location) > 1 else [str(p) for p in location]
    return ".".join(parts) or None


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    problems = [
        {"field": field_of(error.get("loc", ())), "message": str(error.get("msg", "invalid"))}
        for error in errors
    ]
    field = problems[0]["field"] if problems else None
    reason = str(problems[0]["message"]) if problems else "invalid request"
    message = f"{field}: {reason}" if field else reason
    return error_response(422, "validation_error", message, field, errors=problems)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MiniChatError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

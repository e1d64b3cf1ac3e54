"""The one place where the inference plane's errors become HTTP responses, in OpenAI's shape:
`{"error": {"message", "type", "param", "code"}}`, so OpenAI client libraries report them well.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from minichat.contracts.inference import ErrorDetail, ErrorResponse
from minichat.errors import (
    ConfigError,
    InvalidInput,
    MiniChatError,
    NotFound,
    RateLimited,
    Unavailable,
)

logger = logging.getLogger(__name__)

# (HTTP status, OpenAI error type) per domain error.
_STATUS: dict[type[MiniChatError], tuple[int, str]] = {
    InvalidInput: (400, "invalid_request_error"),
    NotFound: (404, "not_found_error"),
    RateLimited: (429, "rate_limit_error"),
    Unavailable: (503, "server_error"),
    ConfigError: (500, "server_error"),
}
_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}
_HTTP_TYPES = {404: "not_found_error", 405: "invalid_request_error"}


def error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, object]:
    detail = ErrorDetail(message=message, type=type_, param=param, code=code)
    return ErrorResponse(error=detail).model_dump()


def error_response(
    status: int,
    message: str,
    *,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(message, type_, param, code), status_code=status, headers=headers
    )


def status_and_type(error: MiniChatError) -> tuple[int, str]:
    for kind in type(error).__mro__:
        if kind in _STATUS:
            return _STATUS[kind]
    return 500, "server_error"


def domain_error_response(error: MiniChatError) -> JSONResponse:
    status, type_ = status_and_type(error)
    headers = None
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    if status >= 500:
        logger.warning("request failed: %s (%s)", error.message, error.code)
    return error_response(
        status, error.message, type_=type_, param=error.field, code=error.code, headers=headers
    )


def invalid_input_of(exc: ValidationError) -> InvalidInput:
    """The first problem of a validation error, naming its parameter (`messages.0.role`)."""
    errors = exc.errors()
    if not errors:
        return InvalidInput("invalid request", code="invalid_request")
    first = errors[0]
    if first["type"] == "json_invalid":
        return InvalidInput("the request body is not valid JSON", code="invalid_json")
    location = [str(part) for part in first["loc"] if not _is_union_tag(part)]
    param = ".".join(location) or None
    if first["type"] == "model_type" and not location:
        return InvalidInput("the request body must be a JSON object", code="invalid_json")
    reason = str(first["msg"]).removeprefix("Value error, ")
    message = f"{param}: {reason}" if param else reason
    code = "missing_required_parameter" if first["type"] == "missing" else "invalid_value"
    return InvalidInput(message, field=param, code=code)


def _is_union_tag(part: int | str) -> bool:
    # pydantic names the union member that failed (`content.str`, `max_tokens.int`); clients
    # want the parameter.
    return isinstance(part, str) and (part in _TYPE_TAGS or "[" in part or "-" in part)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MiniChatError)
    return domain_error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = next(iter(exc.errors()), {})
    location = [str(part) for part in first.get("loc", ())[1:]]
    param = ".".join(location) or None
    return error_response(
        400, str(first.get("msg", "invalid request")), type_="invalid_request_error", param=param
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    type_ = _HTTP_TYPES.get(exc.status_code, "invalid_request_error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return error_response(exc.status_code, message, type_=type_, headers=exc.headers)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "something went wrong on our side", type_="server_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MiniChatError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

"""Domain errors. Each process maps them to its own edge (HTTP status, task retry, Kopf error)."""

from __future__ import annotations


class MiniChatError(Exception):
    """Base of every error MiniChat raises on purpose; `code` is stable, `message` is for people."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Machine-readable extras a client can act on, e.g. the id of the conflicting thing.
        self.details = details or {}
        if code is not None:
            self.code = code


class ConfigError(MiniChatError):
    """A setting is missing or malformed; the message names the variable and how to fix it."""

    code = "config_error"


class NotFound(MiniChatError):
    """The thing does not exist, or belongs to someone else (we never tell which)."""

    code = "not_found"


class Conflict(MiniChatError):
    code = "conflict"


class InvalidInput(MiniChatError):
    code = "invalid_input"


class Unauthenticated(MiniChatError):
    code = "not_authenticated"


class RateLimited(MiniChatError):
    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: int,
        code: str | None = None,
        limit: str | None = None,
    ) -> None:
        """`limit`: the name of the limit reached, for clients (e.g. messages_per_minute)."""
        super().__init__(message, code=code, details={"limit": limit} if limit else None)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(MiniChatError):
    """A dependency (database, broker, upstream model) cannot be reached right now."""

    code = "unavailable"

"""What a chat's user is told when the inference server fails, and what only the log gets."""

from __future__ import annotations

from minichat.errors import InvalidInput, RateLimited, Unavailable
from minichat_api.generation.upstream import upstream_error


def test_a_refused_credential_is_not_quoted_to_the_user() -> None:
    refusal = Unavailable(
        "the inference server refused our credentials (401): Incorrect API key provided: "
        "sk-proj-****abcd",
        code="inference_auth_failed",
    )
    error = upstream_error(refusal)
    assert error.code == "inference_auth_failed"
    assert "sk-" not in error.message
    assert error.message == "the model server failed; try again in a moment"
    assert "sk-proj-****abcd" in error.detail


def test_server_failures_are_told_in_our_words() -> None:
    gone = upstream_error(
        Unavailable(
            "cannot connect to the inference server at http://10.0.3.7:8001/v1: refused",
            code="inference_unreachable",
        )
    )
    busy = upstream_error(
        RateLimited(
            "the inference server is busy: queue full",
            retry_after_seconds=1,
            code="inference_busy",
        )
    )
    assert gone.message == "the model server cannot be reached; try again in a moment"
    assert "10.0.3.7" in gone.detail
    assert busy.message == "the model server is busy; try again in a moment"
    assert busy.retry_after_seconds == 1
    assert gone.retry_after_seconds is None


def test_busy_is_busy_whatever_code_the_server_gives_it() -> None:
    busy = upstream_error(
        RateLimited("busy (2 generating, 8 queued)", retry_after_seconds=3, code="rate_limited")
    )
    assert busy.code == "rate_limited"
    assert busy.message == "the model server is busy; try again in a moment"
    assert busy.retry_after_seconds == 3


def test_a_refused_request_is_told_in_the_servers_words() -> None:
    too_long = InvalidInput("the prompt is longer than the model's context", code="prompt_too_long")
    error = upstream_error(too_long)
    assert (error.code, error.message) == ("prompt_too_long", too_long.message)

"""Passwords, tokens and the JWT secret never reach the logs, and no answer echoes a password:
the auth flows run in process (every logger at DEBUG) and against a real `minichat api`."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL, TEST_JWT_SECRET, UNREACHABLE_INFERENCE_URL
from tests.factories import unique_email
from tests.processes import serve


@dataclass
class Exercised:
    """What the flows handed the api or got from it that must stay out of logs, and every
    answer that issued no token (none of them may hold a secret)."""

    secrets: set[str] = field(default_factory=set)
    passwords: set[str] = field(default_factory=set)
    answers: list[httpx.Response] = field(default_factory=list)


def _password() -> str:
    return f"pw-{uuid.uuid4().hex}"


def _short(password: str) -> str:
    """A password too short to register, still one no other text holds by chance."""
    return "~" + password[-6:]


async def _issued(response: httpx.Response, exercised: Exercised) -> dict[str, str]:
    assert response.status_code in {200, 201}, response.text
    body: dict[str, str] = response.json()
    exercised.secrets |= {body["access_token"], body["refresh_token"]}
    return body


async def exercise(http: httpx.AsyncClient) -> Exercised:
    """Register, log in (right and wrong), refresh, reuse, log out, and send bad bodies that
    carry passwords."""
    seen = Exercised(secrets={TEST_JWT_SECRET})
    email, password, wrong = unique_email("secrets"), _password(), _password()
    seen.passwords |= {password, wrong}

    registered = await _issued(
        await http.post("/api/auth/register", json={"email": email, "password": password}),
        seen,
    )
    logged_in = await _issued(
        await http.post("/api/auth/login", json={"email": email, "password": password}), seen
    )
    seen.answers.append(
        await http.post("/api/auth/login", json={"email": email, "password": wrong})
    )
    seen.answers.append(
        await http.post("/api/auth/login", json={"email": unique_email(), "password": wrong})
    )
    rotated = await _issued(
        await http.post("/api/auth/refresh", json={"refresh_token": registered["refresh_token"]}),
        seen,
    )
    seen.answers.append(
        await http.post("/api/auth/refresh", json={"refresh_token": registered["refresh_token"]})
    )
    bearer = {"Authorization": f"Bearer {rotated['access_token']}"}
    seen.answers.append(await http.get("/api/auth/me", headers=bearer))
    seen.answers.append(
        await http.post("/api/auth/logout", json={"refresh_token": logged_in["refresh_token"]})
    )
    bearer = {"Authorization": f"Bearer {logged_in['access_token']}"}
    seen.answers.append(await http.get("/api/auth/me", headers=bearer))

    # Bodies refused with a password in them, in every place a password could be echoed.
    for body in (
        lambda p: {"email": "not-an-email", "password": p},
        lambda p: {"email": p, "password": p},
        lambda p: {"email": unique_email(), "password": _short(p)},
        lambda p: {"email": unique_email(), "password": p * 8},
        lambda p: {"email": unique_email(), "password": [p]},
        lambda p: {"email": unique_email(), "password": {"value": p}},
        lambda p: {"email": unique_email(), "password": "long enough", "display_name": p + "\0"},
        lambda p: {"email": [p], "password": p},
    ):
        for path in ("/api/auth/register", "/api/auth/login"):
            secret = _password()
            seen.passwords.add(secret)
            seen.passwords.add(_short(secret))
            seen.answers.append(await http.post(path, json=body(secret)))
    seen.secrets |= seen.passwords
    return seen


def _leaked(text: str, secrets: set[str]) -> list[str]:
    return sorted(secret for secret in secrets if secret in text)


def _assert_answers_hold_no_secret(exercised: Exercised) -> None:
    for answer in exercised.answers:
        assert answer.status_code < 500, answer.text
        assert not _leaked(answer.text, exercised.secrets), (answer.request.url, answer.text)
        assert not _leaked(str(answer.headers), exercised.secrets)
    # Every bad register body at least (a login takes some of them as a wrong password).
    assert sum(answer.status_code == 422 for answer in exercised.answers) >= 8


async def test_in_process_logs_and_answers_hold_no_secret(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exercised = await exercise(client)
    _assert_answers_hold_no_secret(exercised)
    assert caplog.records, "nothing was logged: the capture is not looking"
    assert not _leaked(caplog.text, exercised.secrets)


async def test_a_real_api_process_logs_no_secret(
    database_url: str, redis_prefix: str, broker_url: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "BROKER_URL": broker_url,
        "INFERENCE_URL": UNREACHABLE_INFERENCE_URL,
        "LOG_LEVEL": "DEBUG",
    }
    for log_format in ("text", "json"):
        with serve(["api"], {**env, "LOG_FORMAT": log_format}, tmp_path) as api:
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
                exercised = await exercise(http)
        _assert_answers_hold_no_secret(exercised)
        log = api.output()
        assert "/api/auth/login" in log, f"no access lines in the {log_format} log:\n{log}"
        assert not _leaked(log, exercised.secrets), log_format

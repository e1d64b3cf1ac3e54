"""Generated API tests (issue #22 item 1): schemathesis against the real app's OpenAPI document.

Every operation gets generated requests with a registered user's bearer token; every response
must be no 5xx and conform to its documented status, content type and schema. The seed is fixed
(derandomize) so a CI run sends the same requests each time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi

from minichat_api.main import create_app
from minichat_api.settings import ApiSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # schemathesis' own strategies draw from `random` (a Hypothesis deprecation, not ours).
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api(settings: ApiSettings) -> Iterator[tuple[schemathesis.BaseSchema, dict[str, str], Any]]:
    """The real app on the tests' Postgres/Redis, its schema, and a registered user's token."""
    app = create_app(settings)
    # One client for the whole run: its event loop holds the app's lifespan, its Redis and
    # database pools (a client per call would run the app on another loop than its pools).
    with asgi.get_client(app) as http:  # type: ignore[arg-type]
        email = f"fuzz-{secrets.token_hex(6)}@example.com"
        password = secrets.token_urlsafe(16)
        registered = http.post("/api/auth/register", json={"email": email, "password": password})
        assert registered.status_code < 300, registered.text
        login = http.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        yield schema, {"Authorization": f"Bearer {token}"}, http


# About 40 operations: over 2,000 requests per CI run.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "150"))


def test_every_operation_conforms(
    api: tuple[schemathesis.BaseSchema, dict[str, str], Any],
) -> None:
    """No 5xx, and every response (error shapes and the SSE route included) as documented."""
    schema, headers, http = api
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises

        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal sent
            sent += 1
            case.call_and_validate(session=http, headers=headers, checks=CHECKS)

        run()
    assert sent >= 2000 or EXAMPLES_PER_OPERATION < 150, sent

"""A longer schemathesis run against a live api, for local use (issue #22 item 1).

    .venv/bin/python bench/fuzz.py --url http://127.0.0.1:8000 --examples 500

Registers a user, sends its bearer token with every generated request, and prints the requests
sent and the failures by check.
"""

from __future__ import annotations

import argparse
import secrets
from collections import Counter
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def bearer(url: str) -> dict[str, str]:
    """A fresh user's Authorization header."""
    email = f"fuzz-{secrets.token_hex(6)}@example.com"
    password = secrets.token_urlsafe(16)
    with httpx.Client(base_url=url) as http:
        http.post("/api/auth/register", json={"email": email, "password": password})
        login = http.post("/api/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        return {"Authorization": f"Bearer {login.json()['access_token']}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--examples", type=int, default=300, help="per operation")
    parser.add_argument("--seed", type=int, default=None, help="a fixed seed (default: random)")
    args = parser.parse_args()
    headers = bearer(args.url)
    schema = schemathesis.openapi.from_url(f"{args.url}/api/openapi.json")
    sent = 0
    failures: Counter[str] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises
        label = operation.label

        @hypothesis_settings(
            max_examples=args.examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any, label: str = label) -> None:
            nonlocal sent
            sent += 1
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            except Exception as error:  # the figures are the point: count, go on
                failures[f"{label}: {type(error).__name__}"] += 1

        if args.seed is not None:
            run = seed(args.seed)(run)
        run()
    print(f"requests sent: {sent}")
    print(f"failures: {sum(failures.values())}")
    for name, count in failures.most_common():
        print(f"  {count:6d}  {name}")


if __name__ == "__main__":
    main()

"""Unit tests need no server: the fast tier (`scripts/test.sh tests/unit`) starts none, so a
unit test that asks for one of the servers' fixtures is refused at collection."""

from __future__ import annotations

from pathlib import Path

import pytest

# The fixtures of tests/conftest.py that reach PostgreSQL, Redis or RabbitMQ, or build on them.
SERVER_FIXTURES = frozenset(
    {"test_databases", "database_url", "db", "redis_prefix", "broker_url", "settings", "client"}
)
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(_HERE):
            continue
        servers = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if servers:
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(sorted(servers))}: unit tests run with no "
                "server (tests/integration is for those that need one)"
            )

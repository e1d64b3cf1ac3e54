"""`minichat migrate` and `minichat api` as real processes, as the images run them."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import (
    REDIS_URL,
    TEST_JWT_SECRET,
    UNREACHABLE_INFERENCE_URL,
    ScratchDatabases,
)
from tests.factories import DEFAULT_PASSWORD, unique_email
from tests.processes import run_command, serve


def test_migrate_then_serve_a_user_over_http(
    test_databases: ScratchDatabases, redis_prefix: str, tmp_path: Path
) -> None:
    database_url = test_databases.create("process", migrated=False)
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "INFERENCE_URL": UNREACHABLE_INFERENCE_URL,
    }

    migrated = run_command(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "Running upgrade  -> 0001" in migrated.stdout
    assert "database is at head" in migrated.stdout

    with serve(["api"], env, tmp_path) as api:
        email = unique_email()
        registered = httpx.post(
            f"{api.url}/api/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201
        token = registered.json()["access_token"]
        chat = httpx.post(
            f"{api.url}/api/chats",
            json={"title": "over the wire"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert chat.status_code == 201
        assert httpx.get(f"{api.url}/readyz").json()["status"] == "ready"


def test_api_refuses_to_start_without_its_settings(tmp_path: Path) -> None:
    names = ("DATABASE_URL", "JWT_SECRET", "REDIS_URL", "INFERENCE_URL")
    result = run_command(["api"], dict.fromkeys(names, ""), timeout=60)
    assert result.returncode == 2
    for name in names:
        assert f"{name} is not set" in result.stderr
    assert tmp_path.exists()


def test_api_refuses_a_malformed_database_url() -> None:
    result = run_command(
        ["api"], {"DATABASE_URL": "mysql://db/x", "JWT_SECRET": TEST_JWT_SECRET}, timeout=60
    )
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "postgresql+psycopg://" in result.stderr

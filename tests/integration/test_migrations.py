"""The Alembic history on a real PostgreSQL: up from empty, down to nothing, and matching models."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from minichat.db import migrate
from minichat.db.models import Base
from tests.conftest import ScratchDatabases
from tests.processes import run_command

VERSIONS = Path(migrate.MIGRATIONS_LOCATION) / "versions"

EXPECTED_TABLES = {
    "alembic_version",
    "audit_log",
    "chats",
    "generations",
    "login_failures",
    "messages",
    "outbox",
    "processed_events",
    "refresh_tokens",
    "usage_daily",
    "users",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_upgrade_head_then_downgrade_base_then_upgrade_again(
    test_databases: ScratchDatabases,
) -> None:
    url = test_databases.create("updown", migrated=False)
    reported: list[str] = []

    migrate.upgrade(url, report=reported.append)
    assert _tables(url) == EXPECTED_TABLES
    assert any("Running upgrade  -> 0001" in line for line in reported), reported

    migrate.downgrade(url, "base", report=reported.append)
    assert _tables(url) == {"alembic_version"}

    migrate.upgrade(url, report=reported.append)
    assert _tables(url) == EXPECTED_TABLES


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_minichat_migrate_prints_each_revision_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    result = run_command(["migrate"], {"DATABASE_URL": url})

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    revisions = sorted(p.stem.split("_", 1)[0] for p in VERSIONS.glob("[0-9]*.py"))
    for revision in revisions:
        assert output.count(f"-> {revision},") == 1, output
    assert output.count("Running upgrade") == len(revisions), output

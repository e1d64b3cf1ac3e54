"""Run Alembic migrations programmatically, reporting each revision as it is applied."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files

from alembic import command
from alembic.config import Config

MIGRATIONS_LOCATION = str(files("minichat.db") / "migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    # Alembic's ini interpolation treats % specially; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(
    database_url: str, revision: str = "head", report: Callable[[str], None] = print
) -> None:
    with _reporting(report):
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str, report: Callable[[str], None] = print) -> None:
    with _reporting(report):
        command.downgrade(alembic_config(database_url), revision)


class _ReportHandler(logging.Handler):
    def __init__(self, report: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        # One line per revision; Alembic's other lines (its dialect, DDL mode) are noise here.
        if message.startswith("Running "):
            self._report(message)


@contextmanager
def _reporting(report: Callable[[str], None]) -> Iterator[None]:
    """Sends Alembic's "Running upgrade a -> b" lines to `report`, and only there, while a
    command runs (they would otherwise reach the root logger too, and show twice)."""
    logger = logging.getLogger("alembic.runtime.migration")
    handler = _ReportHandler(report)
    previous = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]

"""`minichat migrate`: bring the database schema to the newest revision."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from minichat.db import migrate
from minichat.settings import DatabaseSettings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "migrate",
        help="apply database migrations (alembic upgrade head)",
        description="Apply database migrations to DATABASE_URL, showing each revision.",
    )
    parser.add_argument("--revision", default="head", help="target revision (default: %(default)s)")
    parser.add_argument(
        "--downgrade", action="store_true", help="go down to --revision instead of up"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = DatabaseSettings.load()

    def report(line: str) -> None:
        print(f"  {line}", flush=True)

    direction = "down" if args.downgrade else "up"
    print(f"migrating {direction} to {args.revision} ...", flush=True)
    try:
        if args.downgrade:
            migrate.downgrade(settings.database_url, args.revision, report)
        else:
            migrate.upgrade(settings.database_url, args.revision, report)
    except Exception as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    print("database is at", args.revision, flush=True)
    return 0

"""Entry point of the `minichat` command: builds the parser from the command modules."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from minichat import __version__
from minichat.errors import ConfigError
from minichat.logs import configure_logging
from minichat.settings import CommonSettings
from minichat.tracing import configure_tracing
from minichat_cli.commands import api, inference, migrate, model, operator, relay, up, worker

COMMANDS = (up, api, inference, migrate, model, worker, relay, operator)
# The service each long-running command is, in logs and traces (OTEL_SERVICE_NAME wins).
SERVICES = {
    "up": "minichat",
    "api": "minichat-api",
    "inference": "minichat-inference",
    "worker": "minichat-worker",
    "relay": "minichat-relay",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minichat",
        description="MiniChat: a self-hostable chat platform. Each subcommand runs one deployable.",
    )
    parser.add_argument("--version", action="version", version=f"minichat {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        common = CommonSettings.load()
        service = SERVICES.get(args.command, f"minichat-{args.command}")
        configure_logging(
            common.log_level, common.log_format, os.environ.get("OTEL_SERVICE_NAME") or service
        )
        if args.command in SERVICES:
            configure_tracing(service)
        result: int = args.handler(args)
    except ConfigError as exc:
        print(f"minichat {args.command}: configuration error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())

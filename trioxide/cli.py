"""The `trioxide` command."""

from __future__ import annotations

import argparse
import os
import sys

import psycopg
import psycopg_pool
import trio

from core import config
from core.errors import ConfigError, MigrationError
from core.log import configure_logging


def _environment_help() -> str:
    lines = ["environment variables (default in brackets):"]
    for variable in config.VARIABLES:
        default = "unset" if variable.default is None else variable.default
        lines.append(f"  {variable.name:<28} {variable.help} [{default}]")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trioxide",
        description="A self-hosted, Discord-compatible chat and voice server.",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="migrate, then serve until SIGINT or SIGTERM",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--roles",
        help="comma-separated roles to serve: api, gateway, voice, worker (default: all)",
    )
    commands.add_parser("migrate", help="apply pending migrations and exit")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point. Exit codes: 0 done, 1 failed while running, 2 bad command or setting."""
    args = _parser().parse_args(argv)
    try:
        settings = config.load_settings(os.environ, roles=getattr(args, "roles", None))
    except ConfigError as error:
        print(f"trioxide: {error}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_format)

    from trioxide import server  # after logging is set, so import-time logs are formatted

    failure: str | None = None
    try:
        trio.run(server.serve if args.command == "serve" else server.migrate_only, settings)
    # Raised inside nurseries, these arrive wrapped in exception groups.
    except* MigrationError as group:
        failure = str(group.exceptions[0])
    except* (psycopg.OperationalError, psycopg_pool.PoolTimeout) as group:
        reason = str(group.exceptions[0]).strip().splitlines()[0]
        failure = f"cannot reach the database: {reason}"
    if failure is not None:
        print(f"trioxide: {failure}", file=sys.stderr)
        sys.exit(1)

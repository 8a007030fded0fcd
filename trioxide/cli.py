"""The `trioxide` command."""

from __future__ import annotations

import argparse
import os
import sys

import psycopg
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
    codes = commands.add_parser(
        "registration-code", help="codes for TRIOXIDE_REGISTRATION=invite"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    create = codes.add_parser("create", help="print a new registration code (shown only once)")
    create.add_argument("--uses", type=_positive_int, default=1, help="people it admits [1]")
    create.add_argument(
        "--ttl", type=_duration_s, default=24 * 3600.0, help="lifetime: 30m, 24h, 7d [24h]"
    )
    return parser


def _positive_int(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number from 1 to 1000000")
    return int(raw)


_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration_s(raw: str) -> float:
    number, unit = raw[:-1], raw[-1:]
    if unit not in _UNITS_S or not number.isdigit() or int(number) == 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a duration like 30m, 24h or 7d")
    return float(int(number) * _UNITS_S[unit])


def main(argv: list[str] | None = None) -> None:
    """Entry point. Exit codes: 0 done, 1 failed while running, 2 bad command or setting."""
    args = _parser().parse_args(argv)
    try:
        settings = config.load_settings(os.environ, roles=getattr(args, "roles", None))
    except ConfigError as error:
        print(f"trioxide: {error}", file=sys.stderr)
        sys.exit(2)
    # `serve` logs to stdout like any service; other commands keep stdout for their output.
    configure_logging(
        settings.log_level,
        settings.log_format,
        sys.stdout if args.command == "serve" else sys.stderr,
    )

    from trioxide import server  # after logging is set, so import-time logs are formatted

    failure: str | None = None
    try:
        if args.command == "serve":
            trio.run(server.serve, settings)
        elif args.command == "migrate":
            trio.run(server.migrate_only, settings)
        else:
            code = trio.run(server.create_registration_code, settings, args.uses, args.ttl)
            print(code)
    # Raised inside nurseries, these arrive wrapped in exception groups.
    except* MigrationError as group:
        failure = str(group.exceptions[0])
    except* psycopg.OperationalError as group:
        reason = str(group.exceptions[0]).strip().splitlines()[0]
        failure = f"cannot reach the database: {reason}"
    if failure is not None:
        print(f"trioxide: {failure}", file=sys.stderr)
        sys.exit(1)

"""Path and query parameters: snowflakes, bounded numbers, and the audit-log reason header.

Every number a client puts in a path or query is parsed by core.domain.snowflakes (ASCII digits
only); a path id that could not name a stored object is simply unknown."""

from __future__ import annotations

from urllib.parse import unquote

from quart import request

from core.domain.audit import REASON_MAX
from core.domain.snowflakes import parse_decimal, parse_snowflake, parse_stored_snowflake
from core.errors import ClientError, InvalidForm


def snowflake(raw: str, unknown: type[ClientError]) -> int:
    """A snowflake from the path; `unknown` (e.g. UnknownGuild) when it cannot name one."""
    value = parse_stored_snowflake(raw)
    if value is None:
        raise unknown(raw)
    return value


def snowflake_value(name: str, raw: str) -> int:
    """One query value as a snowflake; 50035 if it is not one this server could have issued."""
    if parse_snowflake(raw) is None:
        raise InvalidForm.one(name, "NUMBER_TYPE_COERCE", "Value is not snowflake.")
    value = parse_stored_snowflake(raw)
    if value is None:
        raise InvalidForm.one(name, "NUMBER_TYPE_MAX", "Snowflake is too large.")
    return value


def query_snowflake(name: str) -> int | None:
    raw = request.args.get(name)
    return None if raw is None else snowflake_value(name, raw)


def query_snowflakes(name: str) -> tuple[int, ...]:
    """Every value of a repeated query parameter (`?author_id=1&author_id=2`) as a snowflake."""
    return tuple(snowflake_value(name, raw) for raw in request.args.getlist(name))


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = parse_decimal(raw)
    if value is None or not low <= value <= high:
        raise InvalidForm.one(name, "NUMBER_TYPE_MAX", f"Must be between {low} and {high}.")
    return value


def query_flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("true", "1")


def audit_reason() -> str | None:
    """X-Audit-Log-Reason, which clients URL-encode; at most 512 characters kept."""
    raw = request.headers.get("X-Audit-Log-Reason")
    return None if not raw else unquote(raw)[:REASON_MAX]

"""Path and query parameters: snowflakes, bounded numbers, and the audit-log reason header."""

from __future__ import annotations

from urllib.parse import unquote

from quart import request

from api.forms import MAX_SNOWFLAKE
from core.domain.audit import REASON_MAX
from core.errors import ClientError, InvalidForm


def snowflake(raw: str, unknown: type[ClientError]) -> int:
    """A snowflake from the path; `unknown` (e.g. UnknownGuild) when it cannot be one."""
    if not raw.isdigit() or int(raw) > MAX_SNOWFLAKE:
        raise unknown(raw)
    return int(raw)


def query_snowflake(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_SNOWFLAKE:
        raise InvalidForm.one(name, "NUMBER_TYPE_COERCE", "Value is not snowflake.")
    return int(raw)


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise InvalidForm.one(name, "NUMBER_TYPE_MAX", f"Must be between {low} and {high}.")
    return int(raw)


def query_flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("true", "1")


def audit_reason() -> str | None:
    """X-Audit-Log-Reason, which clients URL-encode; at most 512 characters kept."""
    raw = request.headers.get("X-Audit-Log-Reason")
    return None if not raw else unquote(raw)[:REASON_MAX]

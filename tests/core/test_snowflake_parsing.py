"""The one parser of snowflakes and decimals from clients: ASCII digits only, in range
(issue #18: "²" and "①" passed str.isdigit() and then failed int())."""

from __future__ import annotations

import pytest

from core.domain.snowflakes import parse_decimal, parse_snowflake, parse_stored_snowflake

ROWS: list[tuple[str, int | None, int | None, int | None]] = [
    # text, as a snowflake, as a stored snowflake, as a decimal
    ("0", 0, 0, 0),
    ("175928847299117063", 175928847299117063, 175928847299117063, 175928847299117063),
    (str(2**63 - 1), 2**63 - 1, 2**63 - 1, 2**63 - 1),
    (str(2**63), 2**63, None, 2**63),
    (str(2**64 - 1), 2**64 - 1, None, 2**64 - 1),
    (str(2**64), None, None, 2**64),
    ("9" * 21, None, None, None),
    ("9" * 5000, None, None, None),
    ("-1", None, None, -1),
    ("--1", None, None, None),
    ("+1", None, None, None),
    ("", None, None, None),
    (" 1", None, None, None),
    ("1\n", None, None, None),
    ("²", None, None, None),
    ("①", None, None, None),
    ("٣", None, None, None),  # int() would take this one
    ("\uff11", None, None, None),  # fullwidth one
    ("1_000", None, None, None),
    ("0x10", None, None, None),
]


@pytest.mark.parametrize(("text", "snowflake", "stored", "decimal"), ROWS)
def test_parsers_take_ascii_digits_in_range_only(
    text: str, snowflake: int | None, stored: int | None, decimal: int | None
) -> None:
    assert parse_snowflake(text) == snowflake
    assert parse_stored_snowflake(text) == stored
    assert parse_decimal(text) == decimal

"""Snowflakes as clients write them: one parser for every wire.

`str.isdigit()` accepts "²" and "①", which `int()` refuses, and `int()` accepts "٣" and " 7 ",
which no client means; so only ASCII digits count. Discord's snowflakes are unsigned 64-bit,
but PostgreSQL's bigint holds 63 bits and no id this server issues is larger: a well-formed id
above that names nothing here, and must never reach the database as an out-of-range parameter.
"""

from __future__ import annotations

import re

MAX_SNOWFLAKE = 2**64 - 1  # the largest id Discord's format allows
MAX_STORED_SNOWFLAKE = 2**63 - 1  # the largest PostgreSQL's bigint holds

_DECIMAL = re.compile(r"-?[0-9]{1,20}", re.ASCII)


def parse_snowflake(text: str) -> int | None:
    """`text` as a snowflake: 1-20 ASCII digits at most 2**64-1; None for anything else."""
    if _DECIMAL.fullmatch(text) is None or text.startswith("-"):
        return None
    value = int(text)
    return value if value <= MAX_SNOWFLAKE else None


def parse_stored_snowflake(text: str) -> int | None:
    """`text` as a snowflake that could name a stored object (at most 2**63-1); None otherwise."""
    value = parse_snowflake(text)
    return value if value is not None and value <= MAX_STORED_SNOWFLAKE else None


def parse_decimal(text: str) -> int | None:
    """`text` as a 64-bit-sized integer: an optional "-" and 1-20 ASCII digits; else None."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    return int(text)

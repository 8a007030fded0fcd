"""Snowflake ids (Discord's layout), generated natively. The only module that names them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trioxide_native import (
    DISCORD_EPOCH_MS,
    MAX_SNOWFLAKE_BATCH,
    SnowflakeGenerator,
    SnowflakeValueError,
    decode_snowflake,
)

if TYPE_CHECKING:
    import datetime as dt

__all__ = [
    "DISCORD_EPOCH_MS",
    "MAX_SNOWFLAKE_BATCH",
    "SnowflakeGenerator",
    "SnowflakeValueError",
    "decode_snowflake",
    "first_snowflake_at",
    "snowflake_ms",
    "snowflake_seconds",
]


def first_snowflake_at(moment: dt.datetime) -> int:
    """The smallest snowflake issued at `moment`: the bound of a "since" or "before" query."""
    return max(0, int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22


def snowflake_ms(snowflake: int) -> int:
    """When the snowflake was issued, in Unix milliseconds."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


def snowflake_seconds(snowflake: int) -> float:
    """When the snowflake was issued, in Unix seconds (to compare with time.time())."""
    return snowflake_ms(snowflake) / 1000

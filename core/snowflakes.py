"""Snowflake ids (Discord's layout), generated natively. The only module that names them."""

from __future__ import annotations

from trioxide_native import (
    DISCORD_EPOCH_MS,
    MAX_SNOWFLAKE_BATCH,
    SnowflakeGenerator,
    SnowflakeValueError,
    decode_snowflake,
)

__all__ = [
    "DISCORD_EPOCH_MS",
    "MAX_SNOWFLAKE_BATCH",
    "SnowflakeGenerator",
    "SnowflakeValueError",
    "decode_snowflake",
]

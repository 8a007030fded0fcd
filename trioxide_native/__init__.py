"""Trioxide's native hot paths. Import through `core`, never directly from api/ or gateway/."""

from trioxide_native._native import (
    DISCORD_EPOCH_MS,
    MAX_SNOWFLAKE_BATCH,
    ChannelPermissions,
    GuildMembers,
    GuildPermissions,
    PermissionsValueError,
    SnowflakeGenerator,
    SnowflakeValueError,
    decode_snowflake,
)

__all__ = [
    "DISCORD_EPOCH_MS",
    "MAX_SNOWFLAKE_BATCH",
    "ChannelPermissions",
    "GuildMembers",
    "GuildPermissions",
    "PermissionsValueError",
    "SnowflakeGenerator",
    "SnowflakeValueError",
    "decode_snowflake",
]

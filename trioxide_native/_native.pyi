from typing import Final, final

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

_Overwrite = tuple[int, int, int, int]
"""Discord's permission overwrite as `(id, type, allow, deny)`; type 0 is a role, 1 a member."""

DISCORD_EPOCH_MS: Final[int]
"""Unix time in ms of 2015-01-01T00:00:00Z, where Discord's snowflake clock starts."""
MAX_SNOWFLAKE_BATCH: Final[int]
"""The most ids one `next_ids` call returns: 16 ms of ids at the format's cap."""

class SnowflakeValueError(ValueError):
    """A snowflake argument out of range, or a clock the snowflake format cannot express."""

@final
class SnowflakeGenerator:
    """Issues strictly increasing Discord snowflakes for one worker/process pair. Thread-safe.

    Every id falls in a later millisecond than `after` (the last id a previous run issued),
    whatever the clock says. 4096 ids fit in one millisecond; past that the generator waits
    for the clock. If the clock steps back, ids keep counting up from the last one instead.
    """

    def __new__(cls, worker_id: int, process_id: int, *, after: int = 0) -> SnowflakeGenerator: ...
    @property
    def worker_id(self) -> int: ...
    @property
    def process_id(self) -> int: ...
    def next_id(self) -> int:
        """The next id. Waits (GIL released) only when this millisecond's ids are used up."""
    def next_ids(self, count: int) -> list[int]:
        """`count` strictly increasing ids, at most MAX_SNOWFLAKE_BATCH, with the GIL released."""

def decode_snowflake(snowflake: int) -> tuple[int, int, int, int]:
    """`(unix_ms, worker_id, process_id, increment)` of a snowflake."""

class PermissionsValueError(ValueError):
    """Roles or overwrites that do not describe a guild: no @everyone, a role twice, a bad type."""

@final
class GuildPermissions:
    """A guild's roles, for Discord's permission algorithm; rebuild it when roles change.

    `roles` holds `(role_id, permissions)` for every role, @everyone (id = guild id) included.
    """

    def __new__(
        cls, guild_id: int, owner_id: int, roles: list[tuple[int, int]]
    ) -> GuildPermissions: ...
    def channel(self, overwrites: list[_Overwrite], *, text: bool = False) -> ChannelPermissions:
        """A channel with these overwrites, for this snapshot of the guild; rebuild it when
        they change. `text` applies the text-channel rule (no SEND_MESSAGES, no embeds…)."""
    def resolve(
        self,
        user_id: int,
        role_ids: list[int],
        *,
        timed_out: bool = False,
        channel: ChannelPermissions | None = None,
    ) -> int:
        """One member's permissions: guild-wide, or in `channel`."""
    def members(self, members: list[tuple[int, list[int], bool]]) -> GuildMembers:
        """A snapshot of `(user_id, role_ids, timed_out)` members for bulk checks."""

@final
class ChannelPermissions:
    """A channel's overwrites laid out for one GuildPermissions. Using it with another
    (say, one rebuilt after a role change) raises PermissionsValueError."""

@final
class GuildMembers:
    """Members of one guild resolved against its roles; rebuild it when members change."""

    def __len__(self) -> int: ...
    def who_has(self, permission: int, channel: ChannelPermissions) -> bytes:
        """One byte per member, in snapshot order: 1 when they have every bit of
        `permission` in `channel`. Runs with the GIL released."""

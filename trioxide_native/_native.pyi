from typing import Final, final

__all__ = [
    "DISCORD_EPOCH_MS",
    "MAX_SNOWFLAKE_BATCH",
    "SnowflakeGenerator",
    "SnowflakeValueError",
    "decode_snowflake",
]

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

"""What a gateway session starts from: who its token belongs to, and the guilds it is in, as
READY and GUILD_CREATE describe them. The gateway (gateway/) speaks the protocol; this reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.access import AccessCache, load_access
from core.domain.permissions import Permission
from core.domain.snowflakes import MAX_STORED_SNOWFLAKE
from core.domain.timestamps import iso
from core.domain.tokens import token_fingerprint
from core.errors import ShardingRequired, Unauthorized
from core.events import guild_create_payload
from core.store import accounts as account_store
from core.store import applications as application_store
from core.store import guilds as guild_store
from core.store import members as member_store

if TYPE_CHECKING:
    from core.accounts import Accounts
    from core.applications import Applications
    from core.store.database import Connection, Database

# Discord's default and ceiling for `large_threshold`: members sent in GUILD_CREATE.
DEFAULT_LARGE_THRESHOLD = 50
MAX_LARGE_THRESHOLD = 250
# REQUEST_GUILD_MEMBERS: at most this many user_ids, and results of a query.
MAX_REQUESTED_IDS = 100
MAX_QUERY_RESULTS = 100
# Discord's sharding: a shard may hold 2,500 guilds (past that IDENTIFY closes 4011), and
# GET /gateway/bot recommends one shard per 1,000.
MAX_GUILDS_PER_SHARD = 2500
GUILDS_PER_RECOMMENDED_SHARD = 1000


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: int
    user: dict[str, object]  # Discord's user object
    bot: bool
    application: dict[str, object] | None  # READY's `{id, flags}`, for bots
    login_session_id: int | None  # the login a person's token belongs to (for revocation)
    # A bot's token, by fingerprint: a token reset closes the sessions of the tokens it replaced,
    # not one that identified with the new token before the reset's event arrived.
    token_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class GuildStart:
    """One guild as the session starts with it."""

    guild_id: int
    role_ids: list[int]  # the session user's
    payload: dict[str, object]  # GUILD_CREATE's `d`


class Sessions:
    def __init__(
        self, db: Database, access: AccessCache, accounts: Accounts, applications: Applications
    ) -> None:
        self._db = db
        self._access = access
        self._accounts = accounts
        self._applications = applications

    async def identify(self, token: str) -> Identity:
        """The identity behind an IDENTIFY token: a bot token (with or without "Bot ", as
        libraries send it) or a person's access token. Unauthorized for anything else."""
        token = token.removeprefix("Bot ").strip()
        if not token:
            raise Unauthorized("no token")
        login_session_id: int | None = None
        if token.startswith("eyJ"):  # a JWT: its header is base64 of '{"'
            claims = await self._accounts.verify_access(token)
            user_id, bot, login_session_id = claims.user_id, False, claims.session_id
        else:
            found = await self._applications.bot_for_token(token)
            if found is None:
                raise Unauthorized("unknown bot token")
            user_id, bot = found, True

        def read(connection: Connection) -> Identity:
            user = account_store.user_by_id(connection, user_id)
            if user is None:
                raise Unauthorized("the token's user is gone")
            # A bot's application shares its id (as on Discord).
            application = application_store.application_by_id(connection, user_id) if bot else None
            return Identity(
                user_id,
                user.to_wire(),
                bot,
                None
                if application is None
                else {"id": str(application.id), "flags": application.flags},
                login_session_id,
                token_fingerprint(token) if bot else None,
            )

        return await self._db.autocommit(read)

    async def guilds(
        self, user_id: int, large_threshold: int, shard: tuple[int, int], max_guilds: int
    ) -> list[GuildStart]:
        """The guilds a session on `shard` (index, count) starts with; ShardingRequired when
        there are more than `max_guilds` of them."""

        def read(connection: Connection) -> list[GuildStart]:
            memberships = guild_store.guilds_of_user(
                connection, user_id, before=None, after=None, limit=max_guilds + 1, shard=shard
            )
            if len(memberships) > max_guilds:
                raise ShardingRequired(f"more than {max_guilds} guilds on one shard")
            return [
                guild_start(self._access, connection, m.guild.id, user_id, large_threshold)
                for m in memberships
            ]

        return await self._db.autocommit(read)

    async def recommended_shards(self, user_id: int) -> int:
        """Discord's advice for GET /gateway/bot: one shard per 1,000 guilds."""
        count = await self._db.autocommit(lambda c: guild_store.guild_count_of_user(c, user_id))
        return max(1, -(-count // GUILDS_PER_RECOMMENDED_SHARD))

    async def members(
        self, user_id: int, request: MemberRequest
    ) -> tuple[list[dict[str, object]], list[int]]:
        """The members asked for, as Discord's member objects, and the requested ids not found.
        Nothing for a guild the requester is not in."""

        def read(connection: Connection) -> tuple[list[dict[str, object]], list[int]]:
            if guild_store.member_of(connection, request.guild_id, user_id) is None:
                return [], []
            if request.user_ids is not None:
                ids = request.user_ids[:MAX_REQUESTED_IDS]
                # (An id past bigint names no one: never sent to PostgreSQL.)
                stored = [i for i in ids if i <= MAX_STORED_SNOWFLAKE]
                found = member_store.members_by_ids(connection, request.guild_id, stored)
                seen = {m.user.id for m in found}
                return [m.to_wire() for m in found], [i for i in ids if i not in seen]
            if request.query:
                limit = min(request.limit or MAX_QUERY_RESULTS, MAX_QUERY_RESULTS)
                found = member_store.search_members(
                    connection, request.guild_id, request.query, limit
                )
            else:
                limit = request.limit or 1 << 31
                found = member_store.members_page(
                    connection, request.guild_id, after=0, limit=limit
                )
            return [m.to_wire() for m in found], []

        return await self._db.autocommit(read)


@dataclass(frozen=True, slots=True)
class MemberRequest:
    """REQUEST_GUILD_MEMBERS (op 8): by `user_ids`, or by name `query` ("" and limit 0: all)."""

    guild_id: int
    query: str | None
    limit: int
    user_ids: list[int] | None


def guild_start(
    cache: AccessCache, connection: Connection, guild_id: int, user_id: int, large_threshold: int
) -> GuildStart:
    """The guild as `user_id`'s session starts with it, or as GUILD_CREATE tells them of it
    when they make or join it: one shape for both, so neither lacks a key."""
    access = load_access(cache, connection, guild_id, user_id)
    snapshot = access.snapshot
    # Only the channels the user can see: the others' names are not theirs to know.
    channels = [
        found.channel.to_wire(found.overwrites)
        for channel_id, found in snapshot.channels.items()
        if access.in_channel(channel_id) & Permission.VIEW_CHANNEL
    ]
    own = member_store.member(connection, guild_id, user_id)
    assert own is not None  # load_access found the membership
    count = guild_store.member_counts(connection, guild_id)
    # All members up to `large_threshold` (Gateway docs, Identify); past it only their own.
    members = (
        [own]
        if count > large_threshold
        else member_store.members_page(connection, guild_id, after=0, limit=large_threshold)
    )
    payload = guild_create_payload(
        access.guild.to_wire(access.roles),
        channels=channels,
        members=[member.to_wire() for member in members],
        member_count=count,
        large=count > large_threshold,
        joined_at=iso(own.joined_at),
    )
    return GuildStart(guild_id, access.role_ids, payload)

"""Direct messages, group DMs and relationships (friends, requests, blocks).

A person may open a DM with someone they share a guild with or are friends with, unless either
has blocked the other. Group DMs gather up to ten people, all friends of their creator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import events
from core.domain.guilds import ChannelType
from core.domain.timestamps import iso
from core.errors import CannotMessageUser, FormCheck, UnknownChannel, UnknownUser
from core.journal import Journal
from core.store import accounts as account_store
from core.store import direct as store
from core.store import guilds as guild_store

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Sequence

    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database

GROUP_MAX = 10  # people in a group DM, its creator included


def dm_wire(connection: Connection, channel_id: int, viewer_id: int) -> dict[str, object]:
    """Discord's DM channel object, as the viewer sees it (recipients are the others)."""
    channel = guild_store.channel_by_id(connection, channel_id)
    if channel is None:
        raise UnknownChannel(str(channel_id))
    others = [u for u in store.recipients(connection, channel_id) if u != viewer_id]
    users = [account_store.user_by_id(connection, u) for u in others]
    wire: dict[str, object] = {
        "id": str(channel.id),
        "type": channel.type,
        "last_message_id": None
        if channel.last_message_id is None
        else str(channel.last_message_id),
        "recipients": [u.to_wire() for u in users if u is not None],
        "flags": 0,
    }
    if channel.type == ChannelType.GROUP_DM:
        owner = store.owner_of(connection, channel_id)
        wire |= {
            "name": channel.name or None,
            "icon": None,
            "owner_id": None if owner is None else str(owner),
        }
    return wire


class Direct:
    def __init__(self, db: Database, snowflakes: SnowflakeGenerator) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)

    def _announce(
        self, connection: Connection, channel_id: int, people: Sequence[int], creator_id: int
    ) -> dict[str, object]:
        """CHANNEL_CREATE to each of `people`, as each sees the channel; the creator's view."""
        for viewer in people:
            self._journal.emit(
                connection,
                events.dm_channel_create(dm_wire(connection, channel_id, viewer), viewer),
            )
        return dm_wire(connection, channel_id, creator_id)

    async def open_dm(self, user_id: int, recipient_id: int) -> dict[str, object]:
        """The one DM channel between the two, made on first use."""
        channel_id = self._snowflakes.next_id()

        def write(connection: Connection) -> dict[str, object]:
            if account_store.user_by_id(connection, recipient_id) is None:
                raise UnknownUser(str(recipient_id))
            existing = store.dm_of_pair(connection, user_id, recipient_id)
            if existing is not None:
                return dm_wire(connection, existing, user_id)
            friends = store.relationship(connection, user_id, recipient_id) == store.FRIEND
            if (
                recipient_id == user_id
                or store.blocked_between(connection, user_id, recipient_id)
                or not (friends or store.shares_a_guild(connection, user_id, recipient_id))
            ):
                raise CannotMessageUser(str(recipient_id))
            store.create_dm_channel(
                connection,
                channel_id,
                ChannelType.DM,
                (user_id, recipient_id),
                pair=store.pair_key(user_id, recipient_id),
                owner_id=None,
                name=None,
            )
            return self._announce(connection, channel_id, (user_id, recipient_id), user_id)

        return await self._db.run(write)

    async def open_group(
        self, user_id: int, recipient_ids: list[int], name: str | None
    ) -> dict[str, object]:
        people = list(dict.fromkeys([user_id, *recipient_ids]))
        check = FormCheck()
        if not 2 <= len(people) <= GROUP_MAX:
            check.fail(
                "recipients", "BASE_TYPE_BAD_LENGTH", f"A group DM has 2 to {GROUP_MAX} people."
            )
        if name is not None and len(name) > 100:
            check.fail("name", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        check.done()
        channel_id = self._snowflakes.next_id()

        def write(connection: Connection) -> dict[str, object]:
            for other in people[1:]:
                if store.relationship(connection, user_id, other) != store.FRIEND:
                    raise CannotMessageUser(str(other))  # a group DM gathers one's friends
            store.create_dm_channel(
                connection,
                channel_id,
                ChannelType.GROUP_DM,
                people,
                pair=None,
                owner_id=user_id,
                name=name,
            )
            return self._announce(connection, channel_id, people, user_id)

        return await self._db.run(write)

    async def channels(self, user_id: int) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            return [
                dm_wire(connection, c, user_id) for c in store.dm_channels_of(connection, user_id)
            ]

        return await self._db.autocommit(read)

    async def get(self, user_id: int, channel_id: int) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            if user_id not in store.recipients(connection, channel_id):
                raise UnknownChannel(str(channel_id))
            return dm_wire(connection, channel_id, user_id)

        return await self._db.autocommit(read)

    # Relationships.

    async def relationships(self, user_id: int) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            found = []
            for other_id, kind, since in store.relationships_of(connection, user_id):
                wire = _relationship_wire(connection, other_id, kind, since)
                if wire is not None:
                    found.append(wire)
            return found

        return await self._db.autocommit(read)

    async def relate_by_username(self, user_id: int, username: str) -> None:
        """POST /users/@me/relationships {username}: a friend request by name, as people
        add each other (Discord's own client sends this; the discriminator is gone)."""

        def find(connection: Connection) -> int:
            other_id = account_store.user_id_by_username(connection, username)
            if other_id is None:
                check = FormCheck()
                check.fail("username", "USERNAME_UNKNOWN", "No one has this username.")
                check.done()
            assert other_id is not None
            return other_id

        await self.relate(user_id, await self._db.autocommit(find), None)

    async def relate(self, user_id: int, other_id: int, kind: int | None) -> None:
        """PUT /users/@me/relationships/{id}: a friend request (accepting theirs makes friends),
        or a block (type 2), which also ends any friendship or request between the two."""
        if kind not in (None, store.FRIEND, store.BLOCKED):
            check = FormCheck()
            check.fail("type", "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
            check.done()

        def change(connection: Connection) -> None:
            if other_id == user_id or account_store.user_by_id(connection, other_id) is None:
                raise UnknownUser(str(other_id))
            if kind == store.BLOCKED:
                store.set_relationship(connection, user_id, other_id, store.BLOCKED)
                store.drop_relationship(connection, other_id, user_id, unless=store.BLOCKED)
                return
            if store.blocked_between(connection, user_id, other_id):
                raise CannotMessageUser(str(other_id))
            theirs = store.relationship(connection, other_id, user_id)
            if theirs in (store.OUTGOING, store.FRIEND):
                store.set_relationship(connection, user_id, other_id, store.FRIEND)
                store.set_relationship(connection, other_id, user_id, store.FRIEND)
            elif store.relationship(connection, user_id, other_id) != store.FRIEND:
                store.set_relationship(connection, user_id, other_id, store.OUTGOING)
                store.set_relationship(connection, other_id, user_id, store.INCOMING)

        await self._db.run(
            lambda connection: self._announced(connection, user_id, other_id, change)
        )

    async def unrelate(self, user_id: int, other_id: int) -> None:
        """Ends a friendship, a request or one's own block; the other side's block stays."""

        def change(connection: Connection) -> None:
            store.drop_relationship(connection, user_id, other_id)
            store.drop_relationship(connection, other_id, user_id, unless=store.BLOCKED)

        await self._db.run(
            lambda connection: self._announced(connection, user_id, other_id, change)
        )

    def _announced(
        self,
        connection: Connection,
        a: int,
        b: int,
        change: Callable[[Connection], None],
    ) -> None:
        """Runs `change` and tells each side whose view of the other it changed, in the same
        transaction (a block: its maker gets type 2, the blocked one loses the friendship)."""
        before = {
            (a, b): store.relationship(connection, a, b),
            (b, a): store.relationship(connection, b, a),
        }
        change(connection)
        for (viewer, other), was in before.items():
            now = store.relationship(connection, viewer, other)
            if now == was:
                continue
            if now is None:
                assert was is not None
                self._journal.emit(connection, events.relationship_remove(viewer, other, was))
                continue
            since = store.relationship_since(connection, viewer, other)
            wire = _relationship_wire(connection, other, now, since)
            if wire is not None:
                self._journal.emit(connection, events.relationship_add(viewer, wire))


def _relationship_wire(
    connection: Connection, other_id: int, kind: int, since: dt.datetime | None
) -> dict[str, object] | None:
    user = account_store.user_by_id(connection, other_id)
    if user is None:
        return None
    return {
        "id": str(other_id),
        "type": kind,
        "user": user.to_wire(),
        "nickname": None,
        "since": None if since is None else iso(since),
    }

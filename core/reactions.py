"""Reactions: add, remove (one's own, another's, an emoji's, all) and list who reacted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import events
from core.access import load_message_access
from core.domain import messages as rules
from core.domain.permissions import Permission
from core.errors import InvalidForm, UnknownEmoji
from core.events import EventName
from core.journal import Journal
from core.messages import existing_message
from core.store import messages as store

if TYPE_CHECKING:
    from core.access import AccessCache
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database


class Reactions:
    def __init__(self, db: Database, snowflakes: SnowflakeGenerator, access: AccessCache) -> None:
        self._db = db
        self._access = access
        self._journal = Journal(snowflakes)

    async def react(self, user_id: int, channel_id: int, message_id: int, raw_emoji: str) -> None:
        emoji = _emoji(raw_emoji)

        def write(connection: Connection) -> None:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.READ_MESSAGE_HISTORY)
            existing_message(connection, channel_id, message_id)
            if not store.has_reaction(connection, message_id, emoji):
                found.require(Permission.ADD_REACTIONS)
            if store.add_reaction(connection, message_id, emoji, user_id):
                self._journal.emit(
                    connection,
                    events.in_channel(
                        EventName.MESSAGE_REACTION_ADD,
                        found.guild_id,
                        channel_id,
                        {
                            "user_id": str(user_id),
                            "message_id": str(message_id),
                            "emoji": rules.emoji_wire(emoji),
                            "burst": False,
                            "type": 0,
                        },
                    ),
                )

        await self._db.run(write)

    async def unreact(
        self,
        user_id: int,
        channel_id: int,
        message_id: int,
        raw_emoji: str | None,
        *,
        of_user: int | None,
        everyone: bool,
    ) -> None:
        """Removes reactions: the caller's own (of_user = caller), another user's, all of one
        emoji (everyone), or all (no emoji, everyone). Only one's own needs no MANAGE_MESSAGES."""
        emoji = None if raw_emoji is None else _emoji(raw_emoji)

        def write(connection: Connection) -> None:
            found = load_message_access(self._access, connection, channel_id, user_id)
            existing_message(connection, channel_id, message_id)
            if everyone or of_user != user_id:
                found.require(Permission.MANAGE_MESSAGES)
            removed = store.remove_reactions(
                connection, message_id, emoji=emoji, user_id=None if everyone else of_user
            )
            if not removed:
                return
            ids: dict[str, object] = {"message_id": str(message_id)}
            if not everyone:
                event = events.in_channel(
                    EventName.MESSAGE_REACTION_REMOVE,
                    found.guild_id,
                    channel_id,
                    ids
                    | {
                        "user_id": str(of_user),
                        "emoji": rules.emoji_wire(emoji or ""),
                        "burst": False,
                        "type": 0,
                    },
                )
            elif emoji is not None:
                event = events.in_channel(
                    EventName.MESSAGE_REACTION_REMOVE_EMOJI,
                    found.guild_id,
                    channel_id,
                    ids | {"emoji": rules.emoji_wire(emoji)},
                )
            else:
                event = events.in_channel(
                    EventName.MESSAGE_REACTION_REMOVE_ALL, found.guild_id, channel_id, ids
                )
            self._journal.emit(connection, event)

        await self._db.run(write)

    async def reactors(
        self,
        user_id: int,
        channel_id: int,
        message_id: int,
        raw_emoji: str,
        *,
        after: int,
        limit: int,
    ) -> list[dict[str, object]]:
        emoji = _emoji(raw_emoji)

        def read(connection: Connection) -> list[dict[str, object]]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.READ_MESSAGE_HISTORY)
            existing_message(connection, channel_id, message_id)
            return [
                u.to_wire()
                for u in store.reactors(connection, message_id, emoji, after=after, limit=limit)
            ]

        return await self._db.autocommit(read)


def _emoji(raw: str) -> str:
    try:
        key = rules.emoji_key(raw)
    except InvalidForm:
        raise UnknownEmoji(raw) from None
    if ":" in key:
        raise UnknownEmoji(raw)  # custom emoji arrive with guild emoji
    return key

"""An interaction's messages that everyone in the channel sees (not ephemeral): written as
the application's bot, with their interaction metadata.

TODO(#19): this stands in for the bot/webhook entry point of core/messages.py that the
webhooks work brings (messages.components, webhook_id, application_id, interaction_metadata
columns); at that merge these methods call it and this stand-in's own SQL goes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from core import events
from core.domain import interactions as rules
from core.domain.messages import Message
from core.errors import UnknownMessage
from core.events import EventName
from core.journal import Journal
from core.store import messages as store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.domain.interactions import Interaction
    from core.interaction_responses import Reply
    from core.messages import Messages
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Statement


class ChannelReplies:
    def __init__(self, snowflakes: SnowflakeGenerator, messages: Messages) -> None:
        self._journal = Journal(snowflakes)
        self._messages = messages

    def _shown(
        self, connection: Connection, message: Message, extra: dict[str, object]
    ) -> dict[str, object]:
        return self._messages.wire(connection, message, message.author_id) | extra

    def create(
        self,
        connection: Connection,
        interaction: Interaction,
        message_id: int,
        reply: Reply,
        *,
        flags: int,
        loading: bool,
        metadata: dict[str, object],
        along: Sequence[Statement],
        also: Sequence[events.Event],
    ) -> dict[str, object]:
        message = Message(
            id=message_id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            author_id=interaction.application_id,
            type=rules.message_type_of(interaction),
            content="" if loading else reply.content or "",
            flags=flags,
            tts=False,
            mention_everyone=False,
            mention_ids=[],
            mention_role_ids=[],
            embeds=[] if loading else reply.embeds or [],
            nonce=None,
            referenced_message_id=None,
            pinned_at=None,
            edited_at=None,
        )
        wire = self._shown(
            connection,
            message,
            {
                "components": [] if loading else reply.components or [],
                "webhook_id": str(interaction.application_id),
                "application_id": str(interaction.application_id),
                "interaction_metadata": metadata,
            },
        )
        self._journal.emit(
            connection,
            *also,
            _in_channel(EventName.MESSAGE_CREATE, message, wire),
            along=[store.insert_message(message), *along],
        )
        return wire

    def get(
        self, connection: Connection, interaction: Interaction, message_id: int
    ) -> dict[str, object]:
        message = store.message_in(connection, interaction.channel_id, message_id)
        if message is None:
            raise UnknownMessage(str(message_id))
        return self._shown(connection, message, {})

    def edit(
        self,
        connection: Connection,
        interaction: Interaction,
        message_id: int,
        reply: Reply,
        *,
        along: Sequence[Statement],
        also: Sequence[events.Event],
    ) -> dict[str, object]:
        message = store.message_in(connection, interaction.channel_id, message_id, lock=True)
        if message is None or message.author_id != interaction.application_id:
            raise UnknownMessage(str(message_id))
        changes: dict[str, object] = {}
        if "content" in reply.given:
            changes["content"] = reply.content or ""
        if "embeds" in reply.given:
            changes["embeds"] = reply.embeds or []
        flags = reply.flags if "flags" in reply.given and reply.flags is not None else message.flags
        changes["flags"] = flags & ~rules.LOADING
        store.edit_message(connection, message, changes, dt.datetime.now(dt.UTC))
        edited = store.message_in(connection, interaction.channel_id, message_id)
        assert edited is not None
        wire = self._shown(connection, edited, {})
        self._journal.emit(
            connection, *also, _in_channel(EventName.MESSAGE_UPDATE, edited, wire), along=along
        )
        return wire

    def delete(self, connection: Connection, interaction: Interaction, message_id: int) -> None:
        message = store.message_in(connection, interaction.channel_id, message_id, lock=True)
        if message is None or message.author_id != interaction.application_id:
            raise UnknownMessage(str(message_id))
        store.delete_messages(connection, interaction.channel_id, [message_id])
        self._journal.emit(
            connection,
            events_in_channel_delete(message),
        )


def _in_channel(name: EventName, message: Message, wire: dict[str, object]) -> events.Event:
    return events.in_channel(name, message.guild_id, message.channel_id, wire)


def events_in_channel_delete(message: Message) -> events.Event:
    return events.in_channel(
        EventName.MESSAGE_DELETE, message.guild_id, message.channel_id, {"id": str(message.id)}
    )

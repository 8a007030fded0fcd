"""Ephemeral answers (flag 64): written to their own table and told to the invoker's sessions
alone (MESSAGE_CREATE, MESSAGE_UPDATE, MESSAGE_DELETE with a one-user audience). They run
inside the caller's transaction, beside the interaction's own bookkeeping."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from core import events
from core.domain import interactions as rules
from core.domain.ephemeral_messages import EphemeralMessage
from core.domain.messages import MessageFlag
from core.domain.replies import LOADING
from core.events import EventName
from core.store import accounts as account_store
from core.store import interactions as store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.domain.interactions import Interaction
    from core.domain.replies import Reply
    from core.journal import Journal
    from core.store.database import Connection, Statement


def _bot(connection: Connection, interaction: Interaction) -> dict[str, object]:
    bot = account_store.user_by_id(connection, interaction.application_id)
    assert bot is not None
    return bot.to_wire()


def _to_viewer(
    name: EventName, message: EphemeralMessage, payload: dict[str, object]
) -> events.Event:
    return events.to_user(
        name, message.viewer_id, payload, guild_id=message.guild_id, channel_id=message.channel_id
    )


class EphemeralReplies:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def create(
        self,
        connection: Connection,
        interaction: Interaction,
        message_id: int,
        reply: Reply,
        *,
        loading: bool,
        metadata: dict[str, object],
        also: Sequence[events.Event] = (),
        along: Sequence[Statement] = (),
    ) -> dict[str, object]:
        """A new ephemeral message of the interaction, for its invoker; `also` (events after
        the message's) and `along` are written in the same statement."""
        message = EphemeralMessage(
            id=message_id,
            interaction_id=interaction.id,
            viewer_id=interaction.user_id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            author_id=interaction.application_id,
            type=rules.message_type_of(interaction),
            content="" if loading else reply.content or "",
            flags=(reply.flags or 0) | MessageFlag.EPHEMERAL | (LOADING if loading else 0),
            embeds=[] if loading else reply.embeds or [],
            components=[] if loading else reply.components or [],
            interaction_metadata=metadata,
            edited_at=None,
        )
        wire = message.to_wire(_bot(connection, interaction))
        self._journal.emit(
            connection,
            _to_viewer(EventName.MESSAGE_CREATE, message, wire),
            *also,
            along=[store.insert_ephemeral(message), *along],
        )
        return wire

    def get(
        self, connection: Connection, interaction: Interaction, message: EphemeralMessage
    ) -> dict[str, object]:
        """The message as its viewer and the interaction's token see it."""
        return message.to_wire(_bot(connection, interaction))

    def edit(
        self,
        connection: Connection,
        interaction: Interaction,
        message: EphemeralMessage,
        reply: Reply,
        *,
        also: Sequence[events.Event] = (),
        along: Sequence[Statement] = (),
    ) -> dict[str, object]:
        """Applies the fields `reply` gives; an edit completes a deferred answer (LOADING
        goes) and never makes the message public."""
        if "content" in reply.given:
            message.content = reply.content or ""
        if "embeds" in reply.given:
            message.embeds = reply.embeds or []
        if "components" in reply.given:
            message.components = reply.components or []
        flags = reply.flags if "flags" in reply.given and reply.flags is not None else message.flags
        message.flags = (flags & ~LOADING) | MessageFlag.EPHEMERAL
        message.edited_at = dt.datetime.now(dt.UTC)
        wire = message.to_wire(_bot(connection, interaction))
        self._journal.emit(
            connection,
            _to_viewer(EventName.MESSAGE_UPDATE, message, wire),
            *also,
            along=[store.update_ephemeral(message), *along],
        )
        return wire

    def delete(
        self, connection: Connection, interaction: Interaction, message: EphemeralMessage
    ) -> None:
        """Deletes it (MESSAGE_DELETE to its viewer alone)."""
        gone: dict[str, object] = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            gone["guild_id"] = str(message.guild_id)
        self._journal.emit(
            connection,
            _to_viewer(EventName.MESSAGE_DELETE, message, gone),
            along=[
                store.delete_ephemeral(message.id),
                store.forget_message(interaction.id, message.id),
            ],
        )

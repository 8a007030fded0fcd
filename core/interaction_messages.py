"""An interaction's messages that everyone in the channel sees (not ephemeral): posted,
edited and deleted through core/messages.py's entry point for callers that authorized
themselves, as the application's bot with the application as their webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain import interactions as rules
from core.domain.messages import POSTED_FLAGS, Author, Draft, MessageFlag, Origin
from core.domain.replies import LOADING

if TYPE_CHECKING:
    from core.domain.interactions import Interaction
    from core.domain.replies import Reply
    from core.messages import Messages
    from core.store.database import Connection

_FLAGS_ALLOWED = POSTED_FLAGS | LOADING


class ChannelReplies:
    def __init__(self, messages: Messages, max_upload_bytes: int) -> None:
        self._messages = messages
        self.max_upload_bytes = max_upload_bytes  # checked before a callback is claimed

    async def create(
        self, interaction: Interaction, reply: Reply, *, loading: bool, metadata: dict[str, object]
    ) -> dict[str, object]:
        """The interaction's new message, in its channel for everyone there: its answer or
        a follow-up (`loading`: a deferred answer, empty until completed)."""
        origin = _origin(interaction, metadata)
        return await self._messages.post(
            Author(interaction.application_id),
            interaction.channel_id,
            _draft(reply, loading=loading),
            webhook_id=origin.webhook_id,
            application_id=origin.application_id,
            interaction_metadata=origin.interaction_metadata,
            message_type=origin.message_type,
            flags_allowed=_FLAGS_ALLOWED,
        )

    def create_within(
        self,
        connection: Connection,
        interaction: Interaction,
        reply: Reply,
        *,
        loading: bool,
        metadata: dict[str, object],
    ) -> dict[str, object]:
        """create() in the callback's own transaction, for a reply without files: the claim,
        the message and INTERACTION_SUCCESS commit together, one round of the relay."""
        return self._messages.post_within(
            connection,
            Author(interaction.application_id),
            interaction.channel_id,
            _draft(reply, loading=loading),
            origin=_origin(interaction, metadata),
            flags_allowed=_FLAGS_ALLOWED,
        )

    async def get(self, interaction: Interaction, message_id: int) -> dict[str, object]:
        """One of the interaction's messages (its answers, or the bot's clicked message)."""
        return await self._messages.get(
            interaction.application_id, interaction.channel_id, message_id
        )

    async def edit(
        self, interaction: Interaction, message_id: int, reply: Reply
    ) -> dict[str, object]:
        """Applies the fields `reply` gives; an edit completes a deferred answer (LOADING
        goes, so the flags are always written). A clicked message the bot sent as itself
        (not through an interaction or its webhook) is edited as the bot's own."""
        application_id = interaction.application_id
        current = await self._messages.get(application_id, interaction.channel_id, message_id)
        webhook_id = _posted_by(current, application_id)
        if webhook_id is None:
            return await self._messages.edit(
                application_id,
                interaction.channel_id,
                message_id,
                given=reply.given,
                content=reply.content,
                embeds=reply.embeds,
                flags=reply.flags,
                allowed_mentions=reply.allowed_mentions,
                components=reply.components,
            )
        flags = reply.flags
        if "flags" not in reply.given or flags is None:
            flags = int(str(current.get("flags", 0)))
        return await self._messages.edit_posted(
            interaction.channel_id,
            message_id,
            webhook_id=webhook_id,
            given=reply.given | {"flags"},
            content=reply.content,
            embeds=reply.embeds,
            flags=flags & ~LOADING,
            allowed_mentions=reply.allowed_mentions,
            components=reply.components,
            flags_allowed=_FLAGS_ALLOWED,
        )

    async def delete(self, interaction: Interaction, message_id: int) -> None:
        """Deletes one of the interaction's messages (MESSAGE_DELETE to the channel)."""
        application_id = interaction.application_id
        current = await self.get(interaction, message_id)
        webhook_id = _posted_by(current, application_id)
        if webhook_id is None:
            await self._messages.delete(application_id, interaction.channel_id, message_id)
            return
        await self._messages.delete_posted(interaction.channel_id, message_id, webhook_id)


def _posted_by(message: dict[str, object], application_id: int) -> int | None:
    """The webhook that posted a message of the application's: the application itself for
    an interaction's, or one of the webhooks it made. None: the bot sent it as itself."""
    webhook_id = message.get("webhook_id")
    if webhook_id is None or message.get("application_id") != str(application_id):
        return None
    return int(str(webhook_id))


def _draft(reply: Reply, *, loading: bool) -> Draft:
    """A reply as the channel message it makes (`loading`: a deferred answer, empty)."""
    flags = ((reply.flags or 0) & ~MessageFlag.EPHEMERAL) | (LOADING if loading else 0)
    return Draft(
        content=None if loading else reply.content,
        embeds=None if loading else reply.embeds,
        allowed_mentions=reply.allowed_mentions,
        flags=flags,
        components=None if loading else reply.components,
        uploads=() if loading else reply.uploads,
    )


def _origin(interaction: Interaction, metadata: dict[str, object]) -> Origin:
    """An interaction's channel message comes from its application, as the application's
    webhook, with the interaction's metadata."""
    application_id = interaction.application_id
    return Origin(application_id, application_id, metadata, rules.message_type_of(interaction))

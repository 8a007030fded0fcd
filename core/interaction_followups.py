"""What a bot does through an interaction's token after its callback, for 15 minutes
(Receiving and Responding: "Followup Messages"): follow-up messages, and reading, editing and
deleting the messages the interaction created (@original among them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import trio

from core.domain.interactions import CallbackType, Interaction
from core.domain.replies import LOADING
from core.domain.tokens import hash_token
from core.ephemeral_replies import EphemeralReplies
from core.errors import InvalidWebhookToken, UnknownMessage
from core.interaction_responses import metadata_of
from core.journal import Journal
from core.store import applications as application_store
from core.store import interactions as store
from core.store.database import execute_together

if TYPE_CHECKING:
    from core.domain.ephemeral_messages import EphemeralMessage
    from core.domain.replies import Reply
    from core.interaction_messages import ChannelReplies
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database


def _by_token(connection: Connection, application_id: int, token: str) -> Interaction:
    """The answered interaction this token belongs to, within its 15 minutes. The token is
    found by its hash (a unique index): nothing about a wrong one is compared piecewise.
    These are webhook routes: a bad token is Discord's 401 50027 there (10062 is /callback's)."""
    found = store.interaction_by_token_hash(connection, hash_token(token))
    if (
        found is None
        or found.application_id != application_id
        or not found.token_live(dt.datetime.now(dt.UTC))
    ):
        raise InvalidWebhookToken(str(application_id))
    return found


def _target(connection: Connection, interaction: Interaction, message_id: int | None) -> int:
    """The message a token route names: @original (None), or one the interaction made."""
    if message_id is None:
        if interaction.original_id is None:
            raise UnknownMessage("@original")
        return interaction.original_id
    if (
        message_id != interaction.original_id
        and store.owned_message(connection, interaction.id, message_id) is None
    ):
        raise UnknownMessage(str(message_id))
    return message_id


@dataclass(frozen=True, slots=True)
class _Found:
    interaction: Interaction
    message_id: int
    ephemeral: EphemeralMessage | None


class InteractionFollowups:
    def __init__(
        self, db: Database, snowflakes: SnowflakeGenerator, channel: ChannelReplies
    ) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._ephemeral = EphemeralReplies(Journal(snowflakes))
        self._channel = channel

    async def is_application(self, application_id: int) -> bool:
        """Whether `/webhooks/{id}/{token}` names an application (then the token is an
        interaction's) rather than an incoming webhook: how those routes choose."""
        found = await self._db.autocommit(
            lambda c: application_store.application_by_id(c, application_id)
        )
        return found is not None

    async def _find(
        self, application_id: int, token: str, message_id: int | None, *, lock: bool = False
    ) -> _Found:
        def read(connection: Connection) -> _Found:
            interaction = _by_token(connection, application_id, token)
            target = _target(connection, interaction, message_id)
            return _Found(interaction, target, store.ephemeral_by_id(connection, target, lock=lock))

        return await self._db.autocommit(read)

    async def follow_up(self, application_id: int, token: str, reply: Reply) -> dict[str, object]:
        """A follow-up message (ephemeral with flag 64). After a deferred answer still
        loading, the first follow-up completes that answer instead, as Discord's does."""
        reply = reply.checked(needs_body=True, max_upload_bytes=self._channel.max_upload_bytes)
        message_id = self._snowflakes.next_id()

        def write(
            connection: Connection,
        ) -> tuple[Interaction, dict[str, object] | None, dict[str, object], bool]:
            """(the interaction, the message written if ephemeral, the metadata of a channel
            message still to post, whether this completes the deferred channel answer)"""
            interaction = _by_token(connection, application_id, token)
            original = interaction.original_id
            # (A follow-up with files is its own message: an edit takes no files.)
            if (
                interaction.response_type == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
                and original is not None
                and not reply.uploads
            ):
                if not interaction.original_ephemeral:
                    if store.take_loading(connection, original, LOADING):
                        return interaction, None, {}, True
                else:
                    shown = store.ephemeral_by_id(connection, original, lock=True)
                    if shown is not None and shown.flags & LOADING:
                        edited = self._ephemeral.edit(connection, interaction, shown, _whole(reply))
                        return interaction, edited, {}, False
            metadata = metadata_of(connection, interaction, original=False)
            if reply.ephemeral:
                created = self._ephemeral.create(
                    connection,
                    interaction,
                    message_id,
                    reply,
                    loading=False,
                    metadata=metadata,
                    along=[store.add_message(interaction.id, message_id, ephemeral=True)],
                )
                return interaction, created, metadata, False
            return interaction, None, metadata, False

        interaction, written, metadata, completes = await self._db.run(write)
        if written is not None:
            return written
        if completes:
            assert interaction.original_id is not None
            original = interaction.original_id
            try:
                return await self._channel.edit(interaction, original, _whole(reply))
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self._db.autocommit(
                        lambda c: store.give_back_loading(c, original, LOADING)
                    )
                raise
        message = await self._channel.create(interaction, reply, loading=False, metadata=metadata)
        made = int(str(message["id"]))
        await self._db.autocommit(
            lambda c: execute_together(
                c, [store.add_message(interaction.id, made, ephemeral=False)]
            )
        )
        return message

    async def get_message(
        self, application_id: int, token: str, message_id: int | None
    ) -> dict[str, object]:
        found = await self._find(application_id, token, message_id)
        if found.ephemeral is None:
            return await self._channel.get(found.interaction, found.message_id)
        ephemeral = found.ephemeral
        return await self._db.autocommit(
            lambda c: self._ephemeral.get(c, found.interaction, ephemeral)
        )

    async def edit_message(
        self, application_id: int, token: str, message_id: int | None, reply: Reply
    ) -> dict[str, object]:
        reply = reply.checked(needs_body=False, takes_files=False)
        found = await self._find(application_id, token, message_id)
        if found.ephemeral is None:
            return await self._channel.edit(found.interaction, found.message_id, reply)

        def write(connection: Connection) -> dict[str, object]:
            shown = store.ephemeral_by_id(connection, found.message_id, lock=True)
            if shown is None:
                raise UnknownMessage(str(found.message_id))
            return self._ephemeral.edit(connection, found.interaction, shown, reply)

        return await self._db.run(write)

    async def delete_message(self, application_id: int, token: str, message_id: int | None) -> None:
        found = await self._find(application_id, token, message_id)
        if found.ephemeral is None:
            await self._channel.delete(found.interaction, found.message_id)
            return

        def write(connection: Connection) -> None:
            shown = store.ephemeral_by_id(connection, found.message_id, lock=True)
            if shown is None:
                raise UnknownMessage(str(found.message_id))
            self._ephemeral.delete(connection, found.interaction, shown)

        await self._db.run(write)


def _whole(reply: Reply) -> Reply:
    """A follow-up standing in for a deferred answer sets all of it."""
    return replace(reply, given=frozenset({"content", "embeds", "components"}))

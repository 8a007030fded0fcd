"""A bot's answers to an interaction, authenticated by its token alone (Receiving and
Responding): the one callback within 3 seconds, then 15 minutes of follow-ups and edits of
the messages it created. Ephemeral messages live in their own table and go to the invoker's
sessions only; the others are channel messages, written through core/messages.py."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core import events
from core.domain import interactions as rules
from core.domain import messages as message_rules
from core.domain.ephemeral_messages import EphemeralMessage
from core.domain.interactions import CallbackType, Interaction, InteractionType
from core.domain.tokens import hash_token
from core.errors import (
    FormCheck,
    InteractionAlreadyAcknowledged,
    InvalidForm,
    UnknownInteraction,
    UnknownMessage,
)
from core.events import EventName
from core.journal import Journal
from core.store import accounts as account_store
from core.store import applications as application_store
from core.store import interactions as store

if TYPE_CHECKING:
    from core.domain.messages import AllowedMentions
    from core.interaction_messages import ChannelReplies
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database, Statement


@dataclass(frozen=True, slots=True)
class Reply:
    """A message a bot sends or edits through an interaction's token. On an edit, only the
    fields named in `given` change."""

    content: str | None = None
    embeds: list[dict[str, object]] | None = None
    components: list[dict[str, object]] | None = None
    flags: int | None = None
    allowed_mentions: AllowedMentions | None = None
    given: frozenset[str] = field(default_factory=frozenset)

    def check(self, *, needs_body: bool) -> None:
        check = FormCheck()
        message_rules.check_message(check, self.content, self.embeds, needs_body=needs_body)
        if self.flags is not None:
            rules.check_flags(check, self.flags)
        check.done()

    @property
    def ephemeral(self) -> bool:
        return bool((self.flags or 0) & rules.EPHEMERAL)


def _verified(connection: Connection, interaction_id: int, token: str) -> Interaction:
    """The interaction, if `token` is its own: compared in constant time. 10062 for a wrong
    token exactly as for an interaction that does not exist."""
    found = store.interaction_by_id(connection, interaction_id)
    if found is None or not hmac.compare_digest(found.token_hash, hash_token(token)):
        raise UnknownInteraction(str(interaction_id))
    return found


def _by_token(connection: Connection, application_id: int, token: str) -> Interaction:
    """The answered interaction this token belongs to, within its 15 minutes."""
    found = store.interaction_by_token_hash(connection, hash_token(token))
    if (
        found is None
        or found.application_id != application_id
        or not found.token_live(dt.datetime.now(dt.UTC))
    ):
        raise UnknownInteraction(str(application_id))
    return found


class InteractionResponses:
    def __init__(
        self, db: Database, snowflakes: SnowflakeGenerator, channel_replies: ChannelReplies
    ) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)
        self._channel = channel_replies

    async def callback(
        self,
        interaction_id: int,
        token: str,
        callback: int,
        data: dict[str, object],
        reply: Reply,
        *,
        with_response: bool,
    ) -> dict[str, object] | None:
        """The interaction's one callback. 10062 for a wrong token or past 3 seconds; 40060
        for a second callback; 50035 for a type that cannot answer this interaction or a bad
        body, before anything is written. With `with_response`, Discord's callback response."""
        if callback == CallbackType.PONG:
            raise InvalidForm.one(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", "PONG answers HTTP endpoints only."
            )
        if callback not in CallbackType._value2member_map_:
            raise InvalidForm.one("type", "BASE_TYPE_CHOICES", "Not a callback type.")
        message_id, modal_id = self._snowflakes.next_ids(2)

        def write(connection: Connection) -> dict[str, object]:
            interaction = _verified(connection, interaction_id, token)
            rules.check_callback_type(
                interaction, callback, from_component=interaction.message_id is not None
            )
            _check_body(callback, data, reply)
            claimed = store.claim_callback(
                connection, interaction_id, callback, rules.CALLBACK_WINDOW
            )
            if claimed is None:
                again = store.interaction_by_id(connection, interaction_id)
                if again is not None and again.response_type is not None:
                    raise InteractionAlreadyAcknowledged(str(interaction_id))
                raise UnknownInteraction(str(interaction_id))
            done = events.to_user(
                EventName.INTERACTION_SUCCESS,
                claimed.user_id,
                {"id": str(claimed.id), "nonce": claimed.nonce},
            )
            message: dict[str, object] | None = None
            ephemeral = loading = False
            if callback in (
                CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
                CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            ):
                loading = callback == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
                ephemeral = reply.ephemeral
                message = self._create(
                    connection,
                    claimed,
                    message_id,
                    reply,
                    loading=loading,
                    original=True,
                    also=done,
                )
            elif callback == CallbackType.DEFERRED_UPDATE_MESSAGE:
                assert claimed.message_id is not None  # a component's or its modal's
                ephemeral = store.ephemeral_by_id(connection, claimed.message_id) is not None
                self._journal.emit(
                    connection,
                    done,
                    along=[store.set_original(claimed.id, claimed.message_id, ephemeral=ephemeral)],
                )
            elif callback == CallbackType.UPDATE_MESSAGE:
                assert claimed.message_id is not None
                message, ephemeral = self._edit(
                    connection, claimed, claimed.message_id, reply, also=done, original=True
                )
            elif callback == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
                choices = rules.check_choices(data.get("choices", []))
                self._journal.emit(
                    connection,
                    done,
                    events.to_user(
                        EventName.APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE,
                        claimed.user_id,
                        {"nonce": claimed.nonce, "choices": choices},
                    ),
                )
            else:  # MODAL
                self._open_modal(connection, claimed, modal_id, data, also=done)
            return rules.callback_response(
                claimed, callback, message=message, loading=loading, ephemeral=ephemeral
            )

        answer = await self._db.run(write)
        return answer if with_response else None

    def _open_modal(
        self,
        connection: Connection,
        interaction: Interaction,
        modal_id: int,
        data: dict[str, object],
        *,
        also: events.Event,
    ) -> None:
        custom_id, title = rules.check_modal_head(data)
        components = data.get("components")
        assert isinstance(components, list)  # _check_body checked them
        application = application_store.application_by_id(connection, interaction.application_id)
        assert application is not None
        modal: dict[str, object] = {
            "custom_id": custom_id,
            "title": title,
            "components": components,
        }
        self._journal.emit(
            connection,
            also,
            events.to_user(
                EventName.INTERACTION_MODAL_CREATE,
                interaction.user_id,
                {
                    "id": str(modal_id),
                    "nonce": interaction.nonce,
                    "channel_id": str(interaction.channel_id),
                    "custom_id": custom_id,
                    "title": title,
                    "components": components,
                    "application": {
                        "id": str(application.id),
                        "name": application.name,
                        "icon": application.icon,
                        "bot_id": str(application.id),
                    },
                },
            ),
            along=[store.open_modal(interaction.id, modal_id, modal)],
        )

    # Messages through the token.

    def _metadata(
        self, connection: Connection, interaction: Interaction, *, original: bool
    ) -> dict[str, object]:
        user = account_store.user_by_id(connection, interaction.user_id)
        assert user is not None
        triggering = None
        if interaction.triggering_id is not None:
            opener = store.interaction_by_id(connection, interaction.triggering_id)
            if opener is not None:
                triggering = rules.metadata(opener, user.to_wire())
        return rules.metadata(
            interaction,
            user.to_wire(),
            original_response_message_id=None if original else interaction.original_id,
            triggering=triggering,
        )

    def _create(
        self,
        connection: Connection,
        interaction: Interaction,
        message_id: int,
        reply: Reply,
        *,
        loading: bool,
        original: bool,
        also: events.Event | None = None,
    ) -> dict[str, object]:
        """A new message of the interaction: its response (`original`) or a follow-up."""
        flags = (reply.flags or 0) | (rules.LOADING if loading else 0)
        metadata = self._metadata(connection, interaction, original=original)
        along: list[Statement] = [
            store.add_message(interaction.id, message_id, ephemeral=reply.ephemeral)
        ]
        if original:
            along.append(store.set_original(interaction.id, message_id, ephemeral=reply.ephemeral))
        if reply.ephemeral:
            message = EphemeralMessage(
                id=message_id,
                interaction_id=interaction.id,
                viewer_id=interaction.user_id,
                channel_id=interaction.channel_id,
                guild_id=interaction.guild_id,
                author_id=interaction.application_id,
                type=rules.message_type_of(interaction),
                content="" if loading else reply.content or "",
                flags=flags,
                embeds=[] if loading else reply.embeds or [],
                components=[] if loading else reply.components or [],
                interaction_metadata=metadata,
                edited_at=None,
            )
            wire = message.to_wire(self._bot(connection, interaction))
            self._journal.emit(
                connection,
                *([also] if also else []),
                self._to_viewer(EventName.MESSAGE_CREATE, message, wire),
                along=[store.insert_ephemeral(message), *along],
            )
            return wire
        return self._channel.create(
            connection,
            interaction,
            message_id,
            reply,
            flags=flags,
            loading=loading,
            metadata=metadata,
            along=along,
            also=[also] if also else [],
        )

    def _edit(
        self,
        connection: Connection,
        interaction: Interaction,
        message_id: int,
        reply: Reply,
        *,
        also: events.Event | None = None,
        original: bool = False,
    ) -> tuple[dict[str, object], bool]:
        """Edits one of the interaction's messages (or, for callback 7, the clicked one);
        the edit completes a deferred response (its LOADING flag goes)."""
        along: list[Statement] = []
        if original:
            along.append(store.set_original(interaction.id, message_id, ephemeral=False))
        ephemeral = store.ephemeral_by_id(connection, message_id, lock=True)
        if ephemeral is None:
            wire = self._channel.edit(
                connection, interaction, message_id, reply, along=along, also=[also] if also else []
            )
            return wire, False
        if original:
            along[0] = store.set_original(interaction.id, message_id, ephemeral=True)
        if "content" in reply.given:
            ephemeral.content = reply.content or ""
        if "embeds" in reply.given:
            ephemeral.embeds = reply.embeds or []
        if "components" in reply.given:
            ephemeral.components = reply.components or []
        keep = rules.EPHEMERAL | (ephemeral.flags & rules.IS_COMPONENTS_V2)
        given_flags = (
            reply.flags if "flags" in reply.given and reply.flags is not None else ephemeral.flags
        )
        ephemeral.flags = (given_flags & ~rules.LOADING & ~rules.EPHEMERAL) | keep
        ephemeral.edited_at = dt.datetime.now(dt.UTC)
        wire = ephemeral.to_wire(self._bot(connection, interaction))
        self._journal.emit(
            connection,
            *([also] if also else []),
            self._to_viewer(EventName.MESSAGE_UPDATE, ephemeral, wire),
            along=[store.update_ephemeral(ephemeral), *along],
        )
        return wire, True

    def _bot(self, connection: Connection, interaction: Interaction) -> dict[str, object]:
        bot = account_store.user_by_id(connection, interaction.application_id)
        assert bot is not None
        return bot.to_wire()

    @staticmethod
    def _to_viewer(
        name: EventName, message: EphemeralMessage, payload: dict[str, object]
    ) -> events.Event:
        return events.to_user(
            name,
            message.viewer_id,
            payload,
            guild_id=message.guild_id,
            channel_id=message.channel_id,
        )

    def _target(
        self, connection: Connection, interaction: Interaction, message_id: int | None
    ) -> int:
        """The message a token route names: @original (None) or one the interaction made."""
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

    async def follow_up(self, application_id: int, token: str, reply: Reply) -> dict[str, object]:
        """A follow-up message. After a deferred response still loading, the first one
        completes it instead, as Discord's does."""
        reply.check(needs_body=True)
        message_id = self._snowflakes.next_id()

        def write(connection: Connection) -> dict[str, object]:
            interaction = _by_token(connection, application_id, token)
            if (
                interaction.response_type == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
                and interaction.original_id is not None
            ):
                current = self._wire(connection, interaction, interaction.original_id)
                flags = current.get("flags")
                if isinstance(flags, int) and flags & rules.LOADING:
                    full = Reply(
                        reply.content,
                        reply.embeds,
                        reply.components,
                        reply.flags,
                        reply.allowed_mentions,
                        frozenset({"content", "embeds", "components"}),
                    )
                    return self._edit(connection, interaction, interaction.original_id, full)[0]
            return self._create(
                connection, interaction, message_id, reply, loading=False, original=False
            )

        return await self._db.run(write)

    def _wire(
        self, connection: Connection, interaction: Interaction, message_id: int
    ) -> dict[str, object]:
        ephemeral = store.ephemeral_by_id(connection, message_id)
        if ephemeral is not None:
            return ephemeral.to_wire(self._bot(connection, interaction))
        return self._channel.get(connection, interaction, message_id)

    async def get_message(
        self, application_id: int, token: str, message_id: int | None
    ) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            interaction = _by_token(connection, application_id, token)
            return self._wire(
                connection, interaction, self._target(connection, interaction, message_id)
            )

        return await self._db.run(read)

    async def edit_message(
        self, application_id: int, token: str, message_id: int | None, reply: Reply
    ) -> dict[str, object]:
        reply.check(needs_body=False)

        def write(connection: Connection) -> dict[str, object]:
            interaction = _by_token(connection, application_id, token)
            target = self._target(connection, interaction, message_id)
            return self._edit(connection, interaction, target, reply)[0]

        return await self._db.run(write)

    async def delete_message(self, application_id: int, token: str, message_id: int | None) -> None:
        def write(connection: Connection) -> None:
            interaction = _by_token(connection, application_id, token)
            target = self._target(connection, interaction, message_id)
            ephemeral = store.ephemeral_by_id(connection, target, lock=True)
            if ephemeral is None:
                self._channel.delete(connection, interaction, target)
                return
            gone: dict[str, object] = {"id": str(target), "channel_id": str(ephemeral.channel_id)}
            if ephemeral.guild_id is not None:
                gone["guild_id"] = str(ephemeral.guild_id)
            self._journal.emit(
                connection,
                self._to_viewer(EventName.MESSAGE_DELETE, ephemeral, gone),
                along=[
                    store.delete_ephemeral(target),
                    store.forget_message(interaction.id, target),
                ],
            )

        await self._db.run(write)


def _check_body(callback: int, data: dict[str, object], reply: Reply) -> None:
    """The callback's `data`, checked before anything is written."""
    if callback in (CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,):
        reply.check(needs_body=True)
    elif callback == CallbackType.UPDATE_MESSAGE:
        reply.check(needs_body=False)
    elif callback in (
        CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        CallbackType.DEFERRED_UPDATE_MESSAGE,
    ):
        if reply.flags is not None:
            check = FormCheck()
            rules.check_flags(check, reply.flags)
            check.done()
    elif callback == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
        rules.check_choices(data.get("choices", []))
    elif callback == CallbackType.MODAL:
        rules.check_modal_head(data)
        check_modal_components(data.get("components"))


def check_modal_components(components: object) -> None:
    """TODO(#19): d-webhooks' check_modal_components replaces this at the merge."""
    if not isinstance(components, list) or not 1 <= len(components) <= 5:
        raise InvalidForm.one("data", "BASE_TYPE_BAD_LENGTH", "A modal has 1 to 5 rows.")


__all__ = ["InteractionResponses", "InteractionType", "Reply"]

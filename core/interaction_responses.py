"""A bot's one callback to an interaction, authenticated by the interaction's token alone
(Receiving and Responding: "Responding to an Interaction"), within 3 seconds.

The callback is claimed by one conditional UPDATE, in the transaction that tells the invoker
(INTERACTION_SUCCESS) and writes whatever lives beside the interaction (an ephemeral message,
an opened modal, autocomplete choices). A message the whole channel sees is posted through
core/messages.py after that commits, and recorded as the interaction's in a last statement."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import trio

from core import events
from core.domain import interactions as rules
from core.domain.components import check_modal_components
from core.domain.interactions import CallbackType, Interaction
from core.domain.tokens import hash_token
from core.ephemeral_replies import EphemeralReplies
from core.errors import FormCheck, InteractionAlreadyAcknowledged, InvalidForm, UnknownInteraction
from core.events import EventName
from core.journal import Journal
from core.store import accounts as account_store
from core.store import applications as application_store
from core.store import interactions as store

if TYPE_CHECKING:
    from core.domain.replies import Reply
    from core.interaction_messages import ChannelReplies
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database, Statement

_MESSAGE_CALLBACKS = frozenset(
    {CallbackType.CHANNEL_MESSAGE_WITH_SOURCE, CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE}
)


def metadata_of(
    connection: Connection, interaction: Interaction, *, original: bool
) -> dict[str, object]:
    """The interaction_metadata of a message the interaction creates: its response
    (`original`) or a follow-up (which names the response)."""
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


@dataclass(frozen=True, slots=True)
class _Claimed:
    interaction: Interaction
    message: dict[str, object] | None  # written already (ephemeral)
    ephemeral: bool
    metadata: dict[str, object] | None  # set: a channel message is still to be written
    checked: Reply | None = None  # that message's body, as checked before the claim


def _answered_with(interaction: Interaction, message: dict[str, object]) -> list[Statement]:
    """The channel message that answers the interaction, recorded as its @original."""
    written = int(str(message["id"]))
    return [
        store.set_original(interaction.id, written, ephemeral=False),
        store.add_message(interaction.id, written, ephemeral=False),
    ]


def _success(interaction: Interaction) -> events.Event:
    """INTERACTION_SUCCESS to the invoker: sent after what the callback did, as Discord's
    client sees the answer first."""
    return events.to_user(
        EventName.INTERACTION_SUCCESS,
        interaction.user_id,
        {"id": str(interaction.id), "nonce": interaction.nonce},
    )


def _check_body(
    callback: int, data: dict[str, object], reply: Reply, max_upload_bytes: int
) -> Reply:
    """The callback's `data`, checked (and its components normalized) before any write."""
    if callback == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
        return reply.checked(needs_body=True, max_upload_bytes=max_upload_bytes)
    if callback in (
        CallbackType.UPDATE_MESSAGE,
        CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        CallbackType.DEFERRED_UPDATE_MESSAGE,
    ):
        return reply.checked(needs_body=False, takes_files=False)
    if callback == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
        rules.check_choices(data.get("choices", []))
    elif callback == CallbackType.MODAL:
        rules.check_modal_head(data)
        check = FormCheck()
        components = data.get("components")
        check_modal_components(check, components if isinstance(components, list) else [])
        if check.errors:
            raise InvalidForm({("data", *path): e for path, e in check.errors.items()})
    return reply


class InteractionResponses:
    def __init__(
        self, db: Database, snowflakes: SnowflakeGenerator, channel: ChannelReplies
    ) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)
        self._ephemeral = EphemeralReplies(self._journal)
        self._channel = channel

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

        def claim(connection: Connection) -> _Claimed:
            found = store.interaction_by_id(connection, interaction_id)
            if found is None or not hmac.compare_digest(found.token_hash, hash_token(token)):
                raise UnknownInteraction(str(interaction_id))
            rules.check_callback_type(found, callback, from_component=found.message_id is not None)
            checked = _check_body(callback, data, reply, self._channel.max_upload_bytes)
            claimed = store.claim_callback(
                connection, interaction_id, callback, rules.CALLBACK_WINDOW
            )
            if claimed is None:
                again = store.interaction_by_id(connection, interaction_id)
                if again is not None and again.response_type is not None:
                    raise InteractionAlreadyAcknowledged(str(interaction_id))
                raise UnknownInteraction(str(interaction_id))
            answered = self._answer(
                connection, claimed, callback, data, checked, message_id, modal_id
            )
            return replace(answered, checked=checked)

        claimed = await self._db.run(claim)
        interaction, message = claimed.interaction, claimed.message
        loading = callback == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        if claimed.metadata is not None:
            assert claimed.checked is not None
            message = await self._channel_answer(
                interaction, callback, claimed.checked, claimed.metadata
            )
        answer = rules.callback_response(
            interaction, callback, message=message, loading=loading, ephemeral=claimed.ephemeral
        )
        return answer if with_response else None

    async def _channel_answer(
        self, interaction: Interaction, callback: int, checked: Reply, metadata: dict[str, object]
    ) -> dict[str, object]:
        """The channel message of a callback claimed already (its body checked then): posted
        or edited, then recorded as the interaction's (@original). If the message cannot be
        written after all (the channel went, the object store is down), the claim is taken
        back and the error reaches the bot: Discord acknowledges only a callback that worked,
        so the bot may retry, and the sweep fails the interaction if it does not."""
        try:
            if callback in _MESSAGE_CALLBACKS:
                message = await self._channel.create(
                    interaction,
                    checked,
                    loading=callback == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                    metadata=metadata,
                )
            else:  # UPDATE_MESSAGE of the clicked message
                assert interaction.message_id is not None
                message = await self._channel.edit(interaction, interaction.message_id, checked)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._db.autocommit(lambda c: store.unclaim_callback(c, interaction.id))
            raise
        if callback in _MESSAGE_CALLBACKS:
            record = _answered_with(interaction, message)
        else:
            assert interaction.message_id is not None
            record = [store.set_original(interaction.id, interaction.message_id, ephemeral=False)]
        await self._db.autocommit(
            lambda c: self._journal.emit(c, _success(interaction), along=record)
        )
        return message

    def _answer(
        self,
        connection: Connection,
        interaction: Interaction,
        callback: int,
        data: dict[str, object],
        reply: Reply,
        message_id: int,
        modal_id: int,
    ) -> _Claimed:
        done = _success(interaction)
        clicked = (
            None
            if interaction.message_id is None
            else store.ephemeral_by_id(connection, interaction.message_id, lock=True)
        )
        if callback in _MESSAGE_CALLBACKS:
            metadata = metadata_of(connection, interaction, original=True)
            loading = callback == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            if not reply.ephemeral and reply.uploads and not loading:
                # Files go to the object store first: posted once this commits, then
                # INTERACTION_SUCCESS.
                return _Claimed(interaction, None, False, metadata)
            if not reply.ephemeral:  # the claim, the message and the success commit together
                message = self._channel.create_within(
                    connection, interaction, reply, loading=loading, metadata=metadata
                )
                self._journal.emit(connection, done, along=_answered_with(interaction, message))
                return _Claimed(interaction, message, False, None)
            message = self._ephemeral.create(
                connection,
                interaction,
                message_id,
                reply,
                loading=loading,
                metadata=metadata,
                also=[done],
                along=[
                    store.add_message(interaction.id, message_id, ephemeral=True),
                    store.set_original(interaction.id, message_id, ephemeral=True),
                ],
            )
            return _Claimed(interaction, message, True, None)
        if callback == CallbackType.DEFERRED_UPDATE_MESSAGE:
            assert interaction.message_id is not None  # a component's, or its modal's
            self._journal.emit(
                connection,
                done,
                along=[
                    store.set_original(
                        interaction.id, interaction.message_id, ephemeral=clicked is not None
                    )
                ],
            )
            return _Claimed(interaction, None, clicked is not None, None)
        if callback == CallbackType.UPDATE_MESSAGE:
            assert interaction.message_id is not None
            if clicked is None:  # edited once this commits, then INTERACTION_SUCCESS
                return _Claimed(interaction, None, False, {})
            message = self._ephemeral.edit(
                connection,
                interaction,
                clicked,
                reply,
                also=[done],
                along=[store.set_original(interaction.id, clicked.id, ephemeral=True)],
            )
            return _Claimed(interaction, message, True, None)
        if callback == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            choices = rules.check_choices(data.get("choices", []))
            self._journal.emit(
                connection,
                events.to_user(
                    EventName.APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE,
                    interaction.user_id,
                    {"nonce": interaction.nonce, "choices": choices},
                ),
                done,
            )
            return _Claimed(interaction, None, False, None)
        self._open_modal(connection, interaction, modal_id, data, also=done)
        return _Claimed(interaction, None, False, None)

    def _open_modal(
        self,
        connection: Connection,
        interaction: Interaction,
        modal_id: int,
        data: dict[str, object],
        *,
        also: events.Event,
    ) -> None:
        """INTERACTION_MODAL_CREATE to the invoker; the modal is kept so that its
        submission can be checked against it."""
        custom_id, title = rules.check_modal_head(data)
        check = FormCheck()
        raw = data.get("components")
        components = check_modal_components(check, raw if isinstance(raw, list) else [])
        application = application_store.application_by_id(connection, interaction.application_id)
        assert application is not None
        modal: dict[str, object] = {
            "custom_id": custom_id,
            "title": title,
            "components": components,
        }
        self._journal.emit(
            connection,
            events.to_user(
                EventName.INTERACTION_MODAL_CREATE,
                interaction.user_id,
                {
                    "id": str(modal_id),
                    "nonce": interaction.nonce,
                    "channel_id": str(interaction.channel_id),
                    **modal,
                    "application": {
                        "id": str(application.id),
                        "name": application.name,
                        "icon": application.icon,
                        "bot_id": str(application.id),
                    },
                },
            ),
            also,
            along=[store.open_modal(interaction.id, modal_id, modal)],
        )

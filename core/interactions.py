"""Interactions a person starts: a command, a click or choice on a message's component, a
modal's submission, an autocomplete request (Discord's `POST /interactions`). Each is checked,
stored with a short-lived token and sent to the application's bot sessions; the invoker's
sessions hear of it, and of whether the bot answered within 3 seconds (the failure sweep).
The bot's answers: core/interaction_responses.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import trio

from core import events
from core.access import DM_PERMISSIONS, load_access, load_message_access
from core.direct import dm_wire
from core.domain import interactions as rules
from core.domain.interactions import Interaction, InteractionType
from core.domain.messages import check_nonce
from core.domain.permissions import Permission
from core.domain.tokens import hash_token
from core.errors import (
    FormCheck,
    InvalidForm,
    MissingAccess,
    UnknownApplication,
    UnknownChannel,
    UnknownGuild,
)
from core.events import EventName
from core.faults import Boundary
from core.interaction_inputs import Inputs
from core.journal import Journal
from core.store import applications as application_store
from core.store import direct as direct_store
from core.store import interactions as store
from core.store.members import person

if TYPE_CHECKING:
    from core.access import AccessCache, MessageAccess
    from core.domain.members import Member
    from core.domain.tokens import JwtKeys
    from core.messages import Messages
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database, Statement


SWEEP_INTERVAL_S = 0.5  # a failure reaches the invoker 3 to 3.5 s after an unanswered interaction
SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class InteractionRequest:
    """`POST /interactions` as Discord's client sends it."""

    type: int
    application_id: int
    channel_id: int
    guild_id: int | None
    nonce: str | None
    data: dict[str, object]
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Named:
    interaction: Interaction
    data: dict[str, object]
    message: dict[str, object] | None  # a component's (or its modal's) message
    along: list[Statement]


@dataclass(frozen=True, slots=True)
class _Where:
    channel: dict[str, object]
    member: dict[str, object] | None  # None in a DM
    guild_locale: str | None


class Interactions:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        messages: Messages,
        keys: JwtKeys,
    ) -> None:
        self._db = db
        self._keys = keys
        self._snowflakes = snowflakes
        self._access = access
        self._journal = Journal(snowflakes)
        self._inputs = Inputs(access, messages)

    async def create(self, user_id: int, request: InteractionRequest) -> None:
        """Checks and stores the interaction, and sends it to the bot, in one transaction.
        Refused (and nothing written) when the person cannot see the channel or use commands
        there, the bot is not there, or what it names is not theirs to use."""
        check = FormCheck()
        check_nonce(check, request.nonce)  # a message's nonce rule: it names the answer
        check.done()
        interaction_id = self._snowflakes.next_id()
        kid = self._keys.signing_kid
        secret = self._keys.get(kid)
        assert secret is not None  # the signing key is always listed
        token = rules.interaction_token(secret, interaction_id)

        def write(connection: Connection) -> None:
            # With the person's user and member row, in the access check's round trip.
            found = load_message_access(
                self._access, connection, request.channel_id, user_id, sender=True
            )
            assert found.sender is not None
            invoker, member = person(found.sender)
            if request.guild_id is not None and request.guild_id != found.guild_id:
                raise InvalidForm.one("guild_id", "CHANNEL_GUILD_MISMATCH", "Not this channel's.")
            application = application_store.application_by_id(connection, request.application_id)
            if application is None:
                raise UnknownApplication(str(request.application_id))
            bot_id = application.id
            app_permissions = self._bot_permissions(connection, found, bot_id)
            interaction = Interaction(
                id=interaction_id,
                application_id=application.id,
                type=request.type,
                user_id=user_id,
                guild_id=found.guild_id,
                channel_id=request.channel_id,
                token_hash=hash_token(token),
                nonce=request.nonce,
                name="",
                command_type=None,
                target_id=None,
                message_id=None,
                triggering_id=None,
                created_at=dt.datetime.now(dt.UTC),  # stored as the database's now()
                response_type=None,
                responded_at=None,
                failed_at=None,
                original_id=None,
                original_ephemeral=False,
                modal_id=None,
                modal=None,
                modal_submitted=False,
            )
            named = self._named(connection, found, request, interaction, user_id)
            where = self._where(connection, found, member, bot_id)
            payload = rules.bot_payload(
                named.interaction,
                token=rules.sealed_token(kid),
                data=named.data,
                channel=where.channel,
                member=where.member,
                user=None if where.member is not None else invoker.to_wire(),
                message=named.message,
                app_permissions=app_permissions,
                locale=invoker.locale,
                guild_locale=where.guild_locale,
            )
            self._journal.emit(
                connection,
                events.to_user(
                    EventName.INTERACTION_CREATE,
                    user_id,
                    {"id": str(interaction_id), "nonce": request.nonce},
                ),
                events.Event(EventName.INTERACTION_CREATE, payload, user_ids=(bot_id,)),
                along=[store.insert_interaction(named.interaction), *named.along],
            )

        await self._db.run(write)

    def _named(
        self,
        connection: Connection,
        found: MessageAccess,
        request: InteractionRequest,
        interaction: Interaction,
        user_id: int,
    ) -> _Named:
        """What the interaction names, checked: its command, component or modal."""
        along: list[Statement] = []
        message: dict[str, object] | None = None
        kind = request.type
        if kind in (
            InteractionType.APPLICATION_COMMAND,
            InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
        ):
            if found.guild_id is not None:
                found.require(Permission.USE_APPLICATION_COMMANDS)
            command = self._inputs.command(connection, found, request.application_id, request.data)
            data, resolved = self._inputs.command_data(
                connection,
                found,
                command,
                request.data,
                user_id=user_id,
                bot_id=request.application_id,
                autocomplete=kind == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
            )
            interaction = replace(
                interaction,
                name=command.name,
                command_type=command.type,
                target_id=resolved.target_id,
            )
        elif kind == InteractionType.MESSAGE_COMPONENT:
            if request.message_id is None:
                raise InvalidForm.one("message_id", "BASE_TYPE_REQUIRED", "This field is required")
            data, message = self._inputs.component(
                connection, found, user_id, request.application_id, request.message_id, request.data
            )
            interaction = replace(interaction, message_id=request.message_id)
        elif kind == InteractionType.MODAL_SUBMIT:
            opener, data = self._inputs.modal_submission(
                connection, request.application_id, user_id, request.channel_id, request.data
            )
            interaction = replace(
                interaction,
                triggering_id=opener.id,
                message_id=opener.message_id,
                name=opener.name,
                command_type=opener.command_type,
            )
            along.append(store.mark_modal_submitted(opener.id))
            if opener.message_id is not None:
                message = self._inputs.message_wire(
                    connection, found, user_id, request.application_id, opener.message_id
                )
        else:
            raise InvalidForm.one("type", "INTERACTION_TYPE_INVALID", "Must be 2, 3, 4 or 5.")
        return _Named(interaction, data, message, along)

    def _where(
        self, connection: Connection, found: MessageAccess, member: Member | None, bot_id: int
    ) -> _Where:
        """The channel (and, in a guild, the member) as the bot is shown them."""
        if found.guild_id is None or member is None:
            return _Where(dm_wire(connection, found.channel.id, bot_id), None, None)
        permissions = {"permissions": str(found.permissions)}
        # The guild as the access check just read it (cached then), else read now.
        snapshot = (
            self._access.cached(found.guild_id, 0)
            or load_access(self._access, connection, found.guild_id, member.user.id).snapshot
        )
        channel = snapshot.channels.get(found.channel.id)
        if channel is None:  # deleted since the check, in a newer snapshot
            raise UnknownChannel(str(found.channel.id))
        return _Where(
            channel.channel.to_wire(channel.overwrites) | permissions,
            member.to_wire() | permissions,
            snapshot.guild.preferred_locale,
        )

    def _bot_permissions(self, connection: Connection, found: MessageAccess, bot_id: int) -> int:
        """The bot's permissions in the channel: MissingAccess (50001) when it is not in the
        guild, or not a recipient of the DM."""
        if found.guild_id is None:
            if bot_id not in direct_store.recipients(connection, found.channel.id):
                raise MissingAccess(f"application {bot_id}")
            return DM_PERMISSIONS
        try:
            bot = load_access(self._access, connection, found.guild_id, bot_id)
        except UnknownGuild:
            raise MissingAccess(f"application {bot_id}") from None
        return bot.in_channel(found.channel.id)

    async def fail_overdue(self) -> int:
        """INTERACTION_FAILURE to the invoker of every interaction left unanswered past the
        callback window; how many. A callback racing this loses or wins whole (one
        conditional UPDATE each)."""

        def write(connection: Connection) -> int:
            failed = store.fail_overdue(connection, rules.CALLBACK_WINDOW, SWEEP_BATCH)
            if failed:
                self._journal.emit(
                    connection,
                    *(
                        events.to_user(
                            EventName.INTERACTION_FAILURE,
                            interaction.user_id,
                            {"id": str(interaction.id), "nonce": interaction.nonce},
                        )
                        for interaction in failed
                    ),
                )
            return len(failed)

        return await self._db.run(write)

    async def forget_old(self) -> int:
        """Deletes interactions (and their ephemeral messages) past RETENTION."""
        return await self._db.run(
            lambda c: store.delete_older_than(c, rules.RETENTION, SWEEP_BATCH)
        )


async def run_interaction_sweep(
    interactions: Interactions,
    interval_s: float = SWEEP_INTERVAL_S,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The worker's loop: fails unanswered interactions and forgets old ones, every
    `interval_s`, until cancelled. A fault waits and retries, through its boundary."""
    boundary = Boundary("interaction_sweep")
    task_status.started()
    while True:
        try:
            await interactions.fail_overdue()
            await interactions.forget_old()
        except Exception as error:  # the boundary: this loop retries, nothing else stops
            await trio.sleep(boundary.failed(error))
            continue
        boundary.succeeded()
        await trio.sleep(interval_s)

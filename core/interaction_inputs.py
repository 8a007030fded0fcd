"""What an interaction names, checked and loaded for the bot: the command and its options with
their `resolved` objects, the clicked component and its message, the submitted modal.
Everything here runs inside the transaction that stores the interaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.access import load_access
from core.domain import interactions as rules
from core.domain.commands import CommandType
from core.domain.components import (
    SELECTS,
    TEXT_INPUT_LENGTH_MAX,
    ButtonStyle,
    ComponentType,
    find_component,
    walk,
)
from core.domain.interaction_options import Refs, check_options
from core.domain.permissions import Permission
from core.domain.snowflakes import parse_stored_snowflake
from core.errors import (
    FieldError,
    InvalidForm,
    MissingPermissions,
    UnknownCommand,
    UnknownInteraction,
    UnknownMessage,
)
from core.store import accounts as account_store
from core.store import commands as command_store
from core.store import interactions as store
from core.store import members as member_store
from core.store import messages as message_store

if TYPE_CHECKING:
    from core.access import AccessCache, MessageAccess
    from core.domain.commands import Command
    from core.domain.interactions import Interaction
    from core.messages import Messages
    from core.store.database import Connection


@dataclass(frozen=True, slots=True)
class Resolved:
    target_id: int | None = None


def _bad(path: tuple[str | int, ...], code: str, message: str) -> InvalidForm:
    return InvalidForm({("data", *path): [FieldError(code, message)]})


class Inputs:
    def __init__(self, access: AccessCache, messages: Messages) -> None:
        self._access = access
        self._messages = messages

    # Commands (types 2 and 4).

    def command(
        self,
        connection: Connection,
        found: MessageAccess,
        application_id: int,
        data: dict[str, object],
    ) -> Command:
        """The command invoked: the application's, global or this guild's, usable here by
        this member, at the version the client saw. 10063 for any other."""
        command_id = parse_stored_snowflake(str(data.get("id", "")))
        command = (
            None if command_id is None else command_store.command_by_id(connection, command_id)
        )
        in_dm = found.guild_id is None
        if (
            command is None
            or command.application_id != application_id
            or command.guild_id not in (None, found.guild_id)
            or command.name != data.get("name")
            or command.type != data.get("type", CommandType.CHAT_INPUT)
            # (The command's own rule, as the command index reads it: contexts win over the
            # older dm_permission.)
            or not (command.usable_in_dms if in_dm else command.usable_in_guilds)
        ):
            raise UnknownCommand(str(command_id))
        if str(data.get("version")) != str(command.version):
            raise _bad(
                ("version",),
                "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION",
                "This command is outdated, please try again in a few minutes",
            )
        if not in_dm and not command.usable_with(found.permissions):
            raise MissingPermissions("default_member_permissions")
        return command

    def command_data(
        self,
        connection: Connection,
        found: MessageAccess,
        command: Command,
        data: dict[str, object],
        *,
        user_id: int,
        bot_id: int,
        autocomplete: bool,
    ) -> tuple[dict[str, object], Resolved]:
        """The interaction's `data` for the bot: the command, the options checked against
        its definition, and the users, members, roles, channels and messages they name."""
        wire: dict[str, object] = {
            "id": str(command.id),
            "name": command.name,
            "type": command.type,
        }
        if command.guild_id is not None:
            wire["guild_id"] = str(command.guild_id)
        refs = Refs()
        target_id: int | None = None
        messages: dict[str, object] = {}
        if command.type == CommandType.CHAT_INPUT:
            options, refs = check_options(
                command.options, data.get("options"), autocomplete=autocomplete
            )
            wire["options"] = options
        else:
            target_id = parse_stored_snowflake(str(data.get("target_id", "")))
            if target_id is None:
                raise _bad(("target_id",), "BASE_TYPE_REQUIRED", "This field is required")
            wire["target_id"] = str(target_id)
            if command.type == CommandType.USER:
                refs.users.add(target_id)
            else:
                messages[str(target_id)] = self.message_wire(
                    connection, found, user_id, bot_id, target_id
                )
        resolved = self.resolve(connection, found, user_id, refs)
        if messages:
            resolved["messages"] = messages
        if resolved:
            wire["resolved"] = resolved
        return wire, Resolved(target_id)

    def resolve(
        self, connection: Connection, found: MessageAccess, user_id: int, refs: Refs
    ) -> dict[str, object]:
        """Discord's `resolved`: each named user (and member, with permissions here), role and
        channel. 50035 for one that does not exist where the interaction is."""
        resolved: dict[str, dict[str, object]] = {}
        user_ids = refs.users | refs.mentionables
        guild_id = found.guild_id
        roles = {role.id: role for role in found.roles}
        role_ids = refs.roles | {m for m in refs.mentionables if m in roles}
        user_ids -= role_ids
        if role_ids - roles.keys():
            raise _bad(("options",), "ROLE_UNKNOWN", "Unknown role.")
        for role_id in role_ids:
            resolved.setdefault("roles", {})[str(role_id)] = roles[role_id].to_wire()
        if user_ids:
            users = {u: account_store.user_by_id(connection, u) for u in user_ids}
            if any(user is None for user in users.values()):
                raise _bad(("options",), "USER_UNKNOWN", "Unknown user.")
            # (Not `user_id`: the invoker's permissions decide what the options may name.)
            for named_id, user in users.items():
                assert user is not None
                resolved.setdefault("users", {})[str(named_id)] = user.to_wire()
            if guild_id is not None:
                access = load_access(self._access, connection, guild_id, user_id)
                layout = access.snapshot.channels[found.channel.id].layout
                for member in member_store.members_by_ids(connection, guild_id, sorted(user_ids)):
                    permissions = access.snapshot.engine.resolve(
                        member.user.id, member.role_ids, channel=layout
                    )
                    shown = {k: v for k, v in member.to_wire().items() if k != "user"}
                    resolved.setdefault("members", {})[str(member.user.id)] = shown | {
                        "permissions": str(permissions)
                    }
        if refs.channels:
            if guild_id is None:
                raise _bad(("options",), "CHANNEL_UNKNOWN", "Unknown channel.")
            access = load_access(self._access, connection, guild_id, user_id)
            for channel_id in refs.channels:
                snapshot = access.snapshot.channels.get(channel_id)
                permissions = access.in_channel(channel_id)
                if snapshot is None or not permissions & Permission.VIEW_CHANNEL:
                    raise _bad(("options",), "CHANNEL_UNKNOWN", "Unknown channel.")
                channel = snapshot.channel
                resolved.setdefault("channels", {})[str(channel_id)] = {
                    "id": str(channel.id),
                    "name": channel.name,
                    "type": channel.type,
                    "permissions": str(permissions),
                    "parent_id": None if channel.parent_id is None else str(channel.parent_id),
                }
        return dict(resolved)

    # Components (type 3).

    def message_wire(
        self,
        connection: Connection,
        found: MessageAccess,
        user_id: int,
        bot_id: int,
        message_id: int,
    ) -> dict[str, object]:
        """A message of the channel as the bot sees it: one the person can read (history
        included; 50013 without), or their own ephemeral message. UnknownMessage for anything
        else."""
        ephemeral = store.ephemeral_by_id(connection, message_id)
        if ephemeral is not None:
            if ephemeral.viewer_id != user_id or ephemeral.channel_id != found.channel.id:
                raise UnknownMessage(str(message_id))
            bot = account_store.user_by_id(connection, ephemeral.author_id)
            assert bot is not None
            return ephemeral.to_wire(bot.to_wire())
        # As GET of the message asks: without history, a person could have the bot handed
        # any old message by id.
        found.require(Permission.READ_MESSAGE_HISTORY)
        message = message_store.message_in(connection, found.channel.id, message_id)
        if message is None:
            raise UnknownMessage(str(message_id))
        return message_store.views(connection, [message], bot_id, self._messages.link)[0].to_wire()

    def component(
        self,
        connection: Connection,
        found: MessageAccess,
        user_id: int,
        bot_id: int,
        message_id: int,
        data: dict[str, object],
    ) -> tuple[dict[str, object], dict[str, object]]:
        """The click or choice: its component must be on that message, which the application
        sent (as its bot or through its webhook); a select's values must be among its options
        and within its bounds."""
        message = self.message_wire(connection, found, user_id, bot_id, message_id)
        # The bot's own message, or one of a webhook its application made (only those
        # carry its application_id; a webhook's author is the webhook).
        author = message.get("author")
        if message.get("application_id") != str(bot_id) and (
            not isinstance(author, dict) or author.get("id") != str(bot_id)
        ):
            raise UnknownMessage(str(message_id))
        custom_id = data.get("custom_id")
        component = (
            find_component(message.get("components"), custom_id)
            if isinstance(custom_id, str)
            else None
        )
        kind = data.get("component_type")
        if (
            component is None
            or component.get("type") != kind
            or component.get("disabled") is True
            or (
                kind == ComponentType.BUTTON
                and component.get("style") in (ButtonStyle.LINK, ButtonStyle.PREMIUM)
            )
        ):
            raise _bad(("custom_id",), "COMPONENT_UNKNOWN", "The message has no such component.")
        wire: dict[str, object] = {"custom_id": custom_id, "component_type": kind}
        if kind in SELECTS:
            values = data.get("values")
            low, high = component.get("min_values", 1), component.get("max_values", 1)
            if (
                not isinstance(values, list)
                or not all(isinstance(v, str) for v in values)
                or not isinstance(low, int)
                or not isinstance(high, int)
                or not low <= len(values) <= high
                or len(set(values)) != len(values)
            ):
                raise _bad(
                    ("values",), "BASE_TYPE_BAD_LENGTH", "Choose within the select's bounds."
                )
            wire["values"] = values
            if kind == ComponentType.STRING_SELECT:
                offered = component.get("options")
                allowed = (
                    {o.get("value") for o in offered if isinstance(o, dict)}
                    if isinstance(offered, list)
                    else set()
                )
                if not set(values) <= allowed:
                    raise _bad(("values",), "BASE_TYPE_CHOICES", "Not one of the select's options.")
            else:
                ids = [parse_stored_snowflake(v) for v in values]
                if any(i is None for i in ids):
                    raise _bad(("values",), "SNOWFLAKE_TYPE", "Must be snowflakes.")
                refs = Refs()
                target = {
                    ComponentType.USER_SELECT: refs.users,
                    ComponentType.ROLE_SELECT: refs.roles,
                    ComponentType.MENTIONABLE_SELECT: refs.mentionables,
                    ComponentType.CHANNEL_SELECT: refs.channels,
                }[ComponentType(int(str(kind)))]
                target.update(i for i in ids if i is not None)
                wire["resolved"] = self.resolve(connection, found, user_id, refs)
        elif kind != ComponentType.BUTTON:
            raise _bad(
                ("component_type",), "COMPONENT_TYPE_INVALID", "Not an interactive component."
            )
        return wire, message

    # Modal submissions (type 5).

    def modal_submission(
        self,
        connection: Connection,
        application_id: int,
        user_id: int,
        channel_id: int,
        data: dict[str, object],
    ) -> tuple[Interaction, dict[str, object]]:
        """The interaction whose modal this submits (opened by this application, for this
        person, in this channel, not submitted yet and within the token's life), and the
        submitted values checked against the modal's text inputs."""
        modal_id = parse_stored_snowflake(str(data.get("id", "")))
        opener = None if modal_id is None else store.opened_modal(connection, modal_id)
        if (
            opener is None
            or opener.modal is None
            or opener.application_id != application_id
            or opener.user_id != user_id
            or opener.channel_id != channel_id
            or not rules.modal_open(opener, dt.datetime.now(dt.UTC))
        ):
            raise UnknownInteraction(str(modal_id))
        modal = opener.modal
        if data.get("custom_id") != modal.get("custom_id"):
            raise _bad(("custom_id",), "MODAL_UNKNOWN", "Not the modal's custom_id.")
        rows = data.get("components")
        if not isinstance(rows, list):
            raise _bad(("components",), "BASE_TYPE_LIST", "Must be a list.")
        submitted: dict[str, str] = {}
        shaped_rows: list[dict[str, object]] = []
        for index, row in enumerate(rows):
            children = row.get("components") if isinstance(row, dict) else None
            if isinstance(row, dict) and isinstance(row.get("component"), dict):
                children = [row["component"]]  # a label
            if not isinstance(children, list):
                raise _bad(("components", index), "BASE_TYPE_LIST", "Must be a row of inputs.")
            shaped: list[dict[str, object]] = []
            for child in children:
                custom_id = child.get("custom_id") if isinstance(child, dict) else None
                value = child.get("value") if isinstance(child, dict) else None
                spec = find_component(modal.get("components"), str(custom_id))
                if (
                    not isinstance(custom_id, str)
                    or spec is None
                    or spec.get("type") != ComponentType.TEXT_INPUT
                    or not isinstance(value, str)
                    or custom_id in submitted
                ):
                    raise _bad(
                        ("components", index), "COMPONENT_UNKNOWN", "Not one of the modal's inputs."
                    )
                low, high = spec.get("min_length", 0), spec.get("max_length", TEXT_INPUT_LENGTH_MAX)
                if (
                    isinstance(low, int)
                    and isinstance(high, int)
                    and value
                    and not low <= len(value) <= high
                ):
                    raise _bad(
                        ("components", index),
                        "BASE_TYPE_BAD_LENGTH",
                        f"Must be between {low} and {high} in length.",
                    )
                submitted[custom_id] = value
                shaped.append(
                    {"type": int(ComponentType.TEXT_INPUT), "custom_id": custom_id, "value": value}
                )
            shaped_rows.append({"type": int(ComponentType.ACTION_ROW), "components": shaped})
        for spec in walk(modal.get("components")):
            if spec.get("type") != ComponentType.TEXT_INPUT:
                continue
            if spec.get("required", True) is not False and not submitted.get(
                str(spec.get("custom_id"))
            ):
                raise _bad(
                    ("components",), "BASE_TYPE_REQUIRED", f"{spec.get('custom_id')} is required."
                )
        return opener, {
            "id": str(modal_id),
            "custom_id": modal.get("custom_id"),
            "components": shaped_rows,
        }

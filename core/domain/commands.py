"""Application commands: Discord's command object, the rules a definition must follow, and
what a bulk overwrite (the sync every library runs on start) changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from core.domain.command_options import (
    NAME_MAX,
    OptionSpec,
    check_chat_name,
    check_options,
    option_text_size,
    options_to_wire,
)
from core.domain.command_options import check_description as check_chat_description
from core.domain.localizations import Localizations, check_localizations, localized, longest
from core.domain.permissions import Permission

if TYPE_CHECKING:
    from core.errors import FieldPath, FormCheck


class CommandType(enum.IntEnum):
    """Discord's application command types."""

    CHAT_INPUT = 1
    USER = 2
    MESSAGE = 3
    PRIMARY_ENTRY_POINT = 4  # an Activity's launcher: Trioxide has no Activities


# Commands of each type one application may have in one scope (global, or one guild).
MAX_COMMANDS = {CommandType.CHAT_INPUT: 100, CommandType.USER: 15, CommandType.MESSAGE: 15}
# Discord counts a chat-input command's names, descriptions and choice values together (the
# longest localization of each field standing for it) against this.
MAX_COMMAND_CHARS = 8000
CONTEXTS = (0, 1, 2)  # GUILD, BOT_DM, PRIVATE_CHANNEL (interaction context types)
INTEGRATION_TYPES = (0, 1)  # GUILD_INSTALL, USER_INSTALL


@dataclass(frozen=True, slots=True)
class Command:
    """A stored command. `guild_id` None is a global command; `options` are the stored
    (normalised) option dicts, as the wire shows them with localizations."""

    id: int
    application_id: int
    guild_id: int | None
    type: int
    name: str
    name_localizations: Localizations | None
    description: str
    description_localizations: Localizations | None
    options: list[dict[str, object]]
    default_member_permissions: int | None
    dm_permission: bool
    contexts: list[int] | None
    integration_types: list[int]
    nsfw: bool
    version: int

    def to_wire(
        self, *, with_localizations: bool = True, locale: str | None = None
    ) -> dict[str, object]:
        """Discord's application command object. Without `with_localizations` (Discord's
        list routes by default) the dictionaries give way to `name_localized` and
        `description_localized` in `locale`, where one is given."""
        wire: dict[str, object] = {
            "id": str(self.id),
            "type": self.type,
            "application_id": str(self.application_id),
        }
        if self.guild_id is not None:
            wire["guild_id"] = str(self.guild_id)
        wire["name"] = self.name
        wire["description"] = self.description
        if with_localizations:
            wire["name_localizations"] = self.name_localizations
            wire["description_localizations"] = self.description_localizations
        else:
            wire.update(localized(self.name_localizations, self.description_localizations, locale))
        if self.options:
            wire["options"] = options_to_wire(
                self.options, with_localizations=with_localizations, locale=locale
            )
        wire.update(
            {
                "default_member_permissions": None
                if self.default_member_permissions is None
                else str(self.default_member_permissions),
                "dm_permission": self.dm_permission,
                "contexts": self.contexts,
                "integration_types": self.integration_types,
                "nsfw": self.nsfw,
                "version": str(self.version),
            }
        )
        return wire

    @property
    def usable_in_guilds(self) -> bool:
        """A guild command, or a global one whose contexts include GUILD (0)."""
        return self.guild_id is not None or self.contexts is None or 0 in self.contexts

    @property
    def usable_in_dms(self) -> bool:
        """A global command offered in a DM with its bot: BOT_DM (1) among its contexts, or,
        without contexts, the older dm_permission."""
        if self.guild_id is not None:
            return False
        return self.dm_permission if self.contexts is None else 1 in self.contexts

    def usable_with(self, permissions: int) -> bool:
        """Whether a member with these guild permissions may see and use the command by its
        default permissions: ADMINISTRATOR passes every set, and "0" leaves only them."""
        if self.default_member_permissions is None:
            return True
        if permissions & Permission.ADMINISTRATOR:
            return True
        wanted = self.default_member_permissions
        return wanted != 0 and permissions & wanted == wanted


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A checked command definition: what a create, an edit or a sync writes."""

    type: int
    name: str
    description: str = ""
    name_localizations: Localizations | None = None
    description_localizations: Localizations | None = None
    options: list[dict[str, object]] = field(default_factory=list)
    default_member_permissions: int | None = None
    dm_permission: bool = True
    contexts: list[int] | None = None
    integration_types: list[int] = field(default_factory=lambda: [0])
    nsfw: bool = False

    def matches(self, command: Command) -> bool:
        """Whether `command` already says exactly this: a sync leaves such a command (and
        its version) alone."""
        return (
            self.type == command.type
            and self.name == command.name
            and self.description == command.description
            and self.name_localizations == command.name_localizations
            and self.description_localizations == command.description_localizations
            and self.options == command.options
            and self.default_member_permissions == command.default_member_permissions
            and self.dm_permission == command.dm_permission
            and self.contexts == command.contexts
            and self.integration_types == command.integration_types
            and self.nsfw == command.nsfw
        )


@dataclass(frozen=True, slots=True)
class CommandDraft:
    """A definition as a client sent it (its JSON types already checked), before Discord's
    rules. None: not sent (or sent as null)."""

    type: int | None = None
    name: str | None = None
    description: str | None = None
    name_localizations: Localizations | None = None
    description_localizations: Localizations | None = None
    options: list[OptionSpec] | None = None
    default_member_permissions: int | None = None
    default_permission: bool | None = None
    dm_permission: bool | None = None
    contexts: list[int] | None = None
    integration_types: list[int] | None = None
    nsfw: bool | None = None
    handler: int | None = None
    sent: frozenset[str] = frozenset()  # the keys the client sent, null or not
    kept_options: list[dict[str, object]] | None = None  # an edit's stored options

    def over(self, command: Command) -> CommandDraft:
        """This edit laid over an existing command: what was not sent keeps its value (and
        kept options, checked when they were stored, are not checked again)."""
        kept = {key: getattr(command, key) for key in _EDITABLE if key not in self.sent}
        return replace(
            self,
            type=command.type,
            kept_options=None if "options" in self.sent else command.options,
            **kept,
        )


_EDITABLE = (
    "name",
    "description",
    "name_localizations",
    "description_localizations",
    "default_member_permissions",
    "dm_permission",
    "contexts",
    "integration_types",
    "nsfw",
)


def _check_context_name(check: FormCheck, path: FieldPath, name: str) -> None:
    # USER and MESSAGE commands may have capitals and spaces ("Application Command Naming").
    if not 1 <= len(name) <= NAME_MAX or not name.strip():
        check.fail_at(path, "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {NAME_MAX} in length.")


def _check_enum_list(
    check: FormCheck, path: FieldPath, values: list[int] | None, allowed: tuple[int, ...]
) -> list[int] | None:
    if values is None:
        return None
    for index, value in enumerate(values):
        if value not in allowed:
            check.fail_at(
                (*path, index),
                "ENUM_TYPE_COERCE",
                f'Value "{value}" is not a valid enum value.',
            )
    return sorted(set(values))


def check_command(check: FormCheck, path: FieldPath, draft: CommandDraft) -> CommandSpec | None:
    """Discord's rules for one command definition. Problems go into `check` under `path`
    (the command's index in a bulk overwrite); the checked spec comes back if there were
    none."""
    before = len(check.errors)
    kind = CommandType.CHAT_INPUT if draft.type is None else draft.type
    if kind not in MAX_COMMANDS:
        message = (
            "PRIMARY_ENTRY_POINT commands launch Activities, which this server does not have."
            if kind == CommandType.PRIMARY_ENTRY_POINT
            else "Value must be one of (1, 2, 3)."
        )
        check.fail_at((*path, "type"), "BASE_TYPE_CHOICES", message)
        return None
    chat = kind == CommandType.CHAT_INPUT
    check_name = check_chat_name if chat else _check_context_name
    name = draft.name or ""
    if draft.name is None:
        check.fail_at((*path, "name"), "BASE_TYPE_REQUIRED", "This field is required")
    else:
        check_name(check, (*path, "name"), name)
    names = check_localizations(
        check, (*path, "name_localizations"), draft.name_localizations, check_name
    )
    description = draft.description or ""
    descriptions = None
    options: list[dict[str, object]] = []
    if chat:
        check_chat_description(check, (*path, "description"), description)
        descriptions = check_localizations(
            check,
            (*path, "description_localizations"),
            draft.description_localizations,
            check_chat_description,
        )
        options = (
            check_options(check, (*path, "options"), draft.options or [])
            if draft.kept_options is None
            else draft.kept_options
        )
    else:
        for key, given in (
            ("description", description),
            ("description_localizations", draft.description_localizations),
            ("options", draft.options),
        ):
            if given:
                check.fail_at(
                    (*path, key),
                    "APPLICATION_COMMAND_CONTEXT_MENU_FIELD_INVALID",
                    f"USER and MESSAGE commands have no {key}.",
                )
    if draft.handler is not None:
        check.fail_at(
            (*path, "handler"),
            "APPLICATION_COMMAND_HANDLER_INVALID",
            "Only PRIMARY_ENTRY_POINT commands have a handler.",
        )
    contexts = _check_enum_list(check, (*path, "contexts"), draft.contexts, CONTEXTS)
    installs = _check_enum_list(
        check, (*path, "integration_types"), draft.integration_types, INTEGRATION_TYPES
    )
    if chat and len(check.errors) == before:
        size = longest(name, names) + longest(description, descriptions)
        if size + option_text_size(options) > MAX_COMMAND_CHARS:
            check.fail_at(
                path,
                "APPLICATION_COMMAND_TOO_LARGE",
                f"Command exceeds maximum size ({MAX_COMMAND_CHARS})",
            )
    if len(check.errors) > before:
        return None
    permissions = draft.default_member_permissions
    if permissions is None and draft.default_permission is False:
        permissions = 0  # the old switch: off by default means administrators only
    return CommandSpec(
        type=kind,
        name=name,
        description=description,
        name_localizations=names,
        description_localizations=descriptions,
        options=options,
        default_member_permissions=permissions,
        dm_permission=draft.dm_permission is not False,
        contexts=contexts,
        integration_types=installs or [0],
        nsfw=bool(draft.nsfw),
    )


def check_counts(check: FormCheck, path: FieldPath, specs: list[CommandSpec]) -> None:
    """A scope's whole list: unique (name, type) and at most Discord's count of each type."""
    seen: set[tuple[int, str]] = set()
    counts: dict[int, int] = {}
    for index, spec in enumerate(specs):
        if (spec.type, spec.name) in seen:
            check.fail_at(
                (*path, index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add((spec.type, spec.name))
        counts[spec.type] = counts.get(spec.type, 0) + 1
    for kind, count in counts.items():
        limit = MAX_COMMANDS[CommandType(kind)]
        if count > limit:
            check.fail_at(
                path,
                "APPLICATION_COMMANDS_TOO_MANY",
                f"At most {limit} {CommandType(kind).name} commands per scope.",
            )


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What a bulk overwrite does to a scope: commands matched by (name, type) keep their id
    and, when unchanged, their version; the rest of the scope goes."""

    create: list[CommandSpec]
    update: list[tuple[Command, CommandSpec]]
    keep: list[Command]
    delete: list[Command]
    order: list[tuple[str, int]]  # (name, type) of each command in the order sent


def plan_sync(existing: list[Command], specs: list[CommandSpec]) -> SyncPlan:
    by_key = {(command.name, command.type): command for command in existing}
    create: list[CommandSpec] = []
    update: list[tuple[Command, CommandSpec]] = []
    keep: list[Command] = []
    for spec in specs:
        found = by_key.pop((spec.name, spec.type), None)
        if found is None:
            create.append(spec)
        elif spec.matches(found):
            keep.append(found)
        else:
            update.append((found, spec))
    return SyncPlan(create, update, keep, list(by_key.values()), [(s.name, s.type) for s in specs])

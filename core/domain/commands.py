"""Application commands: Discord's command object, the rules a definition must follow, and
what a bulk overwrite (the sync every library runs on start) changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from core.domain.command_options import Localizations, localized, options_to_wire
from core.domain.permissions import Permission


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

"""Application command options: sub-commands, groups and parameters with their choices, the
rules Discord holds them to, and how they are stored and shown.

A checked option is stored as the dict the wire shows (with its localizations), holding only
the keys that were set: an option tree is only ever read and written whole."""

from __future__ import annotations

import enum
from typing import TypeAlias

Localizations: TypeAlias = dict[str, str]


class OptionType(enum.IntEnum):
    """Discord's application command option types."""

    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


def localized(
    name_localizations: object, description_localizations: object, locale: str | None
) -> dict[str, object]:
    """`name_localized` and `description_localized` in `locale`, where the dictionaries have
    it (Discord's list routes show these in place of the dictionaries)."""
    found: dict[str, object] = {}
    if locale is None:
        return found
    for key, dictionary in (
        ("name_localized", name_localizations),
        ("description_localized", description_localizations),
    ):
        if isinstance(dictionary, dict) and locale in dictionary:
            found[key] = dictionary[locale]
    return found


def _localizing(item: dict[str, object], locale: str | None) -> dict[str, object]:
    """A stored option or choice without its dictionaries, with its strings in `locale`."""
    shown = {
        key: value
        for key, value in item.items()
        if key not in ("name_localizations", "description_localizations")
    }
    shown.update(
        localized(item.get("name_localizations"), item.get("description_localizations"), locale)
    )
    for nested in ("options", "choices"):
        children = item.get(nested)
        if isinstance(children, list):
            shown[nested] = [_localizing(child, locale) for child in children]
    return shown


def options_to_wire(
    options: list[dict[str, object]], *, with_localizations: bool, locale: str | None
) -> list[dict[str, object]]:
    """Stored options as the wire shows them."""
    if with_localizations:
        return options
    return [_localizing(option, locale) for option in options]

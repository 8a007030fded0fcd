"""Application command options: sub-commands, groups and parameters with their choices, the
rules Discord holds them to, and how they are stored and shown.

A checked option is stored as the dict the wire shows (with its localizations), holding only
the keys that were set: an option tree is only ever read and written whole."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.localizations import Localizations, check_localizations, localized, longest

if TYPE_CHECKING:
    from core.errors import FieldPath, FormCheck


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


NAME_MAX = 32
DESCRIPTION_MAX = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_MAX = 100
STRING_LENGTH_MAX = 6000  # the most a STRING option's min_length and max_length may say
# INTEGER options take integers between -2^53+1 and 2^53-1 and NUMBER options doubles between
# -2^53 and 2^53: what a JavaScript client holds exactly.
SAFE_INTEGER_MAX = (1 << 53) - 1
MAX_CHANNEL_TYPE = 16  # GUILD_MEDIA, Discord's largest channel type

# Discord's name rule for chat-input commands and every option ("Application Command Naming").
# \p{L} letters, \p{N} numbers, and the Devanagari and Thai marks that are not letters.
_NAME_MARKS = "\u0900-\u097f\u0e00-\u0e7f"
_NAME = re.compile(rf"^[-_'\w{_NAME_MARKS}]{{1,{NAME_MAX}}}$")

_SUBCOMMANDS = (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)
_WITH_CHOICES = (OptionType.STRING, OptionType.INTEGER, OptionType.NUMBER)


@dataclass(frozen=True, slots=True)
class ChoiceSpec:
    name: str
    value: str | int | float
    name_localizations: Localizations | None = None


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """An option as a client sent it (its JSON types already checked), before Discord's
    rules. None: not sent."""

    type: int
    name: str
    description: str
    name_localizations: Localizations | None = None
    description_localizations: Localizations | None = None
    required: bool | None = None
    choices: list[ChoiceSpec] | None = None
    options: list[OptionSpec] | None = None
    channel_types: list[int] | None = None
    min_value: int | float | None = None
    max_value: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    autocomplete: bool | None = None


def _valid_name(name: str) -> bool:
    # `\w` is letters, digits and the underscore; Discord's class has no other connector.
    return bool(_NAME.match(name)) and name == name.lower()


def check_chat_name(check: FormCheck, path: FieldPath, name: str) -> None:
    """A chat-input command's or an option's name: Discord's pattern, in lower case where
    the letters have one."""
    if not 1 <= len(name) <= NAME_MAX:
        check.fail_at(path, "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {NAME_MAX} in length.")
    elif not _valid_name(name):
        check.fail_at(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def check_description(check: FormCheck, path: FieldPath, description: str) -> None:
    if not 1 <= len(description) <= DESCRIPTION_MAX:
        check.fail_at(
            path,
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {DESCRIPTION_MAX} in length.",
        )


def _check_choice(
    check: FormCheck, path: FieldPath, option_type: int, choice: ChoiceSpec
) -> dict[str, object]:
    _check_choice_name(check, (*path, "name"), choice.name)
    value = choice.value
    if option_type == OptionType.STRING:
        if not isinstance(value, str):
            check.fail_at((*path, "value"), "BASE_TYPE_STRING", "Must be a string.")
        elif not 1 <= len(value) <= CHOICE_STRING_MAX:
            check.fail_at(
                (*path, "value"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {CHOICE_STRING_MAX} in length.",
            )
    elif option_type == OptionType.INTEGER:
        if not isinstance(value, int) or abs(value) > SAFE_INTEGER_MAX:
            check.fail_at((*path, "value"), "NUMBER_TYPE_COERCE", "Value is not int.")
    elif isinstance(value, str) or not _safe_number(value):
        check.fail_at((*path, "value"), "NUMBER_TYPE_COERCE", "Value is not a valid number.")
    stored: dict[str, object] = {"name": choice.name}
    names = check_localizations(
        check, (*path, "name_localizations"), choice.name_localizations, _check_choice_name
    )
    if names is not None:
        stored["name_localizations"] = names
    stored["value"] = value
    return stored


def _check_choice_name(check: FormCheck, path: FieldPath, name: str) -> None:
    if not 1 <= len(name) <= CHOICE_NAME_MAX:
        check.fail_at(
            path,
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {CHOICE_NAME_MAX} in length.",
        )


def _safe_number(value: float) -> bool:
    return math.isfinite(value) and abs(value) <= SAFE_INTEGER_MAX + 1


def _not_for(check: FormCheck, path: FieldPath, key: str, kinds: str) -> None:
    check.fail_at(
        (*path, key),
        "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
        f"Only {kinds} options may have {key}.",
    )


def _check_bounds(check: FormCheck, path: FieldPath, option: OptionSpec) -> dict[str, object]:
    """min_value and max_value for numbers, min_length and max_length for strings."""
    stored: dict[str, object] = {}
    numeric = option.type in (OptionType.INTEGER, OptionType.NUMBER)
    for key, bound in (("min_value", option.min_value), ("max_value", option.max_value)):
        if bound is None:
            continue
        if not numeric:
            _not_for(check, path, key, "INTEGER and NUMBER")
        elif option.type == OptionType.INTEGER and not isinstance(bound, int):
            check.fail_at((*path, key), "NUMBER_TYPE_COERCE", "Value is not int.")
        elif not _safe_number(bound):
            check.fail_at((*path, key), "NUMBER_TYPE_MAX", "Must be between -2^53 and 2^53.")
        else:
            stored[key] = bound
    low, high = stored.get("min_value"), stored.get("max_value")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        check.fail_at((*path, "max_value"), "NUMBER_TYPE_MIN", "Must be at least min_value.")
    for key, length, least in (
        ("min_length", option.min_length, 0),
        ("max_length", option.max_length, 1),
    ):
        if length is None:
            continue
        if option.type != OptionType.STRING:
            _not_for(check, path, key, "STRING")
        elif not least <= length <= STRING_LENGTH_MAX:
            check.fail_at(
                (*path, key),
                "NUMBER_TYPE_MAX",
                f"Must be between {least} and {STRING_LENGTH_MAX}.",
            )
        else:
            stored[key] = length
    shortest, longest = stored.get("min_length"), stored.get("max_length")
    if isinstance(shortest, int) and isinstance(longest, int) and shortest > longest:
        check.fail_at((*path, "max_length"), "NUMBER_TYPE_MIN", "Must be at least min_length.")
    return stored


def _check_option(
    check: FormCheck, path: FieldPath, option: OptionSpec, *, level: int, parent: int | None
) -> dict[str, object]:
    """One option, checked and normalised. `level` 0 is the command's own options, 1 a
    sub-command's or a group's, 2 a sub-command's in a group; `parent` the type of the
    option holding it (None: the command)."""
    if option.type not in OptionType.__members__.values():
        check.fail_at((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, ..., 11).")
    check_chat_name(check, (*path, "name"), option.name)
    check_description(check, (*path, "description"), option.description)
    stored: dict[str, object] = {"type": option.type, "name": option.name}
    names = check_localizations(
        check, (*path, "name_localizations"), option.name_localizations, check_chat_name
    )
    if names is not None:
        stored["name_localizations"] = names
    stored["description"] = option.description
    descriptions = check_localizations(
        check,
        (*path, "description_localizations"),
        option.description_localizations,
        check_description,
    )
    if descriptions is not None:
        stored["description_localizations"] = descriptions
    if option.type in _SUBCOMMANDS:
        # A group holds sub-commands and sits at the top; a sub-command holds parameters and
        # sits at the top or in a group (Discord's "Subcommands and Subcommand Groups").
        if option.type == OptionType.SUB_COMMAND_GROUP and parent is not None:
            check.fail_at(
                (*path, "type"),
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command groups may only be nested in a command.",
            )
        elif parent not in (None, OptionType.SUB_COMMAND_GROUP):
            check.fail_at(
                (*path, "type"),
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-commands may only be nested in a command or a sub-command group.",
            )
        children = check_options(
            check, (*path, "options"), option.options or [], level=level + 1, parent=option.type
        )
        if option.type == OptionType.SUB_COMMAND_GROUP and any(
            child["type"] != OptionType.SUB_COMMAND for child in children
        ):
            check.fail_at(
                (*path, "options"),
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "A sub-command group holds only sub-commands.",
            )
        if children:
            stored["options"] = children
        return stored
    if option.options:
        _not_for(check, path, "options", "SUB_COMMAND and SUB_COMMAND_GROUP")
    if option.required:
        stored["required"] = True
    if option.choices:
        if option.type not in _WITH_CHOICES:
            _not_for(check, path, "choices", "STRING, INTEGER and NUMBER")
        elif len(option.choices) > MAX_CHOICES:
            check.fail_at(
                (*path, "choices"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_CHOICES} or fewer in length.",
            )
        else:
            stored["choices"] = [
                _check_choice(check, (*path, "choices", index), option.type, choice)
                for index, choice in enumerate(option.choices)
            ]
            _check_unique(check, (*path, "choices"), [c.name for c in option.choices])
    if option.channel_types:
        if option.type != OptionType.CHANNEL:
            _not_for(check, path, "channel_types", "CHANNEL")
        for index, kind in enumerate(option.channel_types):
            if not 0 <= kind <= MAX_CHANNEL_TYPE:
                check.fail_at(
                    (*path, "channel_types", index),
                    "ENUM_TYPE_COERCE",
                    f'Value "{kind}" is not a valid enum value.',
                )
        stored["channel_types"] = sorted(set(option.channel_types))
    stored.update(_check_bounds(check, path, option))
    if option.autocomplete:
        if option.type not in _WITH_CHOICES:
            _not_for(check, path, "autocomplete", "STRING, INTEGER and NUMBER")
        elif option.choices:
            check.fail_at(
                (*path, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
                "Autocomplete cannot be set on an option with choices.",
            )
        stored["autocomplete"] = True
    return stored


def _check_unique(check: FormCheck, path: FieldPath, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            check.fail_at(
                (*path, index, "name"),
                "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME",
                "Option names must be unique.",
            )
        seen.add(name)


def check_options(
    check: FormCheck,
    path: FieldPath,
    options: list[OptionSpec],
    *,
    level: int = 0,
    parent: int | None = None,
) -> list[dict[str, object]]:
    """A list of options (a command's, a group's or a sub-command's: `parent` is the type of
    the option holding them), checked and normalised into the dicts that are stored; every
    problem goes into `check` under its path."""
    if len(options) > MAX_OPTIONS:
        check.fail_at(path, "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_OPTIONS} or fewer in length.")
        return []
    if level > 2 and options:
        check.fail_at(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Options nest at most two levels deep.",
        )
        return []
    stored = [
        _check_option(check, (*path, index), option, level=level, parent=parent)
        for index, option in enumerate(options)
    ]
    kinds = {option.type in _SUBCOMMANDS for option in options}
    if len(kinds) > 1:
        check.fail_at(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all"
            " other types",
        )
    optional_seen = False
    for index, option in enumerate(options):
        if option.type in _SUBCOMMANDS:
            continue
        if option.required and optional_seen:
            check.fail_at(
                (*path, index),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        optional_seen = optional_seen or not option.required
    _check_unique(check, path, [option.name for option in options])
    return stored


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


def option_text_size(options: list[dict[str, object]]) -> int:
    """The characters Discord counts against a command's size: names, descriptions and
    string choice values of every option and choice, the longest localization standing for
    each field."""
    size = 0
    for option in options:
        size += longest(str(option["name"]), option.get("name_localizations"))
        size += longest(str(option.get("description", "")), option.get("description_localizations"))
        choices = option.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            size += longest(str(choice["name"]), choice.get("name_localizations"))
            size += len(str(choice["value"]))
        nested = option.get("options")
        if isinstance(nested, list):
            size += option_text_size(nested)
    return size

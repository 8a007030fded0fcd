"""The options a person fills in when invoking a command, checked against the command's own
option tree (Application Commands: "Application Command Interaction Data Option"), and the
objects they name, which the interaction's `resolved` carries. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain.command_options import SAFE_INTEGER_MAX, STRING_LENGTH_MAX, OptionType
from core.domain.snowflakes import parse_stored_snowflake
from core.errors import FieldError, InvalidForm

_MAX_DEPTH = 3  # group → sub-command → parameters


@dataclass(slots=True)
class Refs:
    """The snowflakes the options name, by what they must be."""

    users: set[int] = field(default_factory=set)
    channels: set[int] = field(default_factory=set)
    roles: set[int] = field(default_factory=set)
    mentionables: set[int] = field(default_factory=set)


def _fail(path: tuple[str | int, ...], code: str, message: str) -> InvalidForm:
    return InvalidForm({("data", "options", *path): [FieldError(code, message)]})


def check_options(
    schema: list[dict[str, object]], given: object, *, autocomplete: bool
) -> tuple[list[dict[str, object]], Refs]:
    """The options as the bot receives them (only Discord's keys), and what they reference.
    InvalidForm (50035, under data.options) for an option the command lacks, a value of the
    wrong type or outside its choices and bounds, or a missing required one. An autocomplete
    request names exactly one `focused` option, whose value may be partial text."""
    refs = Refs()
    focused: list[int] = []
    shaped = _check_level(schema, given, (), refs, focused, autocomplete=autocomplete, depth=0)
    if autocomplete and len(focused) != 1:
        raise _fail((), "AUTOCOMPLETE_FOCUS", "Exactly one option must be focused.")
    return shaped, refs


def _check_level(
    schema: list[dict[str, object]],
    given: object,
    path: tuple[str | int, ...],
    refs: Refs,
    focused: list[int],
    *,
    autocomplete: bool,
    depth: int,
) -> list[dict[str, object]]:
    if given is None:
        given = []
    if not isinstance(given, list) or depth > _MAX_DEPTH:
        raise _fail(path, "BASE_TYPE_LIST", "Must be a list.")
    by_name = {str(option.get("name")): option for option in schema}
    nested = [
        o for o in schema if o.get("type") in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)
    ]
    shaped: list[dict[str, object]] = []
    seen: set[str] = set()
    for index, option in enumerate(given):
        here = (*path, index)
        if not isinstance(option, dict):
            raise _fail(here, "DICT_TYPE_CONVERT", "Must be an object.")
        name = option.get("name")
        spec = by_name.get(name) if isinstance(name, str) else None
        if spec is None or option.get("type") != spec.get("type"):
            raise _fail(
                here, "APPLICATION_COMMAND_OPTION_UNKNOWN", "The command has no such option."
            )
        if name in seen:
            raise _fail(here, "BASE_TYPE_DUPLICATES", "Each option may be given once.")
        assert isinstance(name, str)
        seen.add(name)
        kind = OptionType(int(str(spec["type"])))
        if kind in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP):
            if len(given) != 1:
                raise _fail(path, "BASE_TYPE_BAD_LENGTH", "Name exactly one sub-command.")
            children = spec.get("options") or []
            assert isinstance(children, list)
            inner = _check_level(
                children,
                option.get("options"),
                (*here, "options"),
                refs,
                focused,
                autocomplete=autocomplete,
                depth=depth + 1,
            )
            shaped.append({"name": name, "type": int(kind), "options": inner})
            continue
        is_focused = autocomplete and option.get("focused") is True
        value = option.get("value")
        if is_focused and spec.get("autocomplete") is not True:
            raise _fail(
                (*here, "focused"), "AUTOCOMPLETE_INVALID", "This option has no autocomplete."
            )
        if is_focused:
            focused.append(1)
            if not isinstance(value, str) or len(value) > STRING_LENGTH_MAX:
                raise _fail((*here, "value"), "BASE_TYPE_STRING", "Must be a string.")
        else:
            value = _check_value(kind, spec, value, (*here, "value"), refs)
        item: dict[str, object] = {"name": name, "type": int(kind), "value": value}
        if is_focused:
            item["focused"] = True
        shaped.append(item)
    if nested and not shaped:
        raise _fail(path, "BASE_TYPE_REQUIRED", "Name a sub-command.")
    if not autocomplete:
        for spec in schema:
            if spec.get("required") is True and spec.get("name") not in seen:
                raise _fail(path, "BASE_TYPE_REQUIRED", f"{spec.get('name')} is required.")
    return shaped


def _check_value(
    kind: OptionType,
    spec: dict[str, object],
    value: object,
    path: tuple[str | int, ...],
    refs: Refs,
) -> object:
    if kind is OptionType.STRING:
        if not isinstance(value, str) or len(value) > STRING_LENGTH_MAX:
            raise _fail(path, "BASE_TYPE_STRING", "Must be a string.")
        low, high = spec.get("min_length", 0), spec.get("max_length", STRING_LENGTH_MAX)
        if isinstance(low, int) and isinstance(high, int) and not low <= len(value) <= high:
            raise _fail(
                path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
            )
    elif kind in (OptionType.INTEGER, OptionType.NUMBER):
        numeric = (int,) if kind is OptionType.INTEGER else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            raise _fail(path, "NUMBER_TYPE_COERCE", "Must be a number.")
        # (Discord's range for both, as command_options says.)
        if not -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX:
            raise _fail(path, "NUMBER_TYPE_MAX", "Out of the range of a safe integer.")
        low, high = spec.get("min_value"), spec.get("max_value")
        if (isinstance(low, (int, float)) and value < low) or (
            isinstance(high, (int, float)) and value > high
        ):
            raise _fail(path, "NUMBER_TYPE_OUT_OF_RANGE", "Out of the option's range.")
    elif kind is OptionType.BOOLEAN:
        if not isinstance(value, bool):
            raise _fail(path, "BASE_TYPE_BOOLEAN", "Must be either true or false.")
    elif kind is OptionType.ATTACHMENT:
        raise _fail(path, "UNSUPPORTED", "Attachment options are not supported yet.")
    else:
        snowflake = parse_stored_snowflake(value) if isinstance(value, str) else None
        if snowflake is None:
            raise _fail(path, "SNOWFLAKE_TYPE", "Must be a snowflake as a string.")
        {
            OptionType.USER: refs.users,
            OptionType.CHANNEL: refs.channels,
            OptionType.ROLE: refs.roles,
            OptionType.MENTIONABLE: refs.mentionables,
        }[kind].add(snowflake)
        return str(snowflake)
    choices = spec.get("choices")
    offered = (
        [c.get("value") for c in choices if isinstance(c, dict)]
        if isinstance(choices, list)
        else []
    )
    if offered and value not in offered:
        raise _fail(path, "BASE_TYPE_CHOICES", "Must be one of the option's choices.")
    return value

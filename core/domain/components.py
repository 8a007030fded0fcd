"""Message components (Discord's "Message Components"): action rows of buttons and selects on
messages, and text inputs in modals. Validated and normalized here. Pure."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from core.errors import FieldError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from core.errors import FormCheck

Path = tuple[str | int, ...]

MAX_ROWS = 5
MAX_BUTTONS_PER_ROW = 5
MAX_OPTIONS = 25
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
URL_MAX = 512
OPTION_TEXT_MAX = 100  # an option's label, value and description
PLACEHOLDER_MAX = 150
MODAL_PLACEHOLDER_MAX = 100
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_LENGTH_MAX = 4000


class ComponentType(enum.IntEnum):
    ACTION_ROW = 1
    BUTTON = 2
    STRING_SELECT = 3
    TEXT_INPUT = 4
    USER_SELECT = 5
    ROLE_SELECT = 6
    MENTIONABLE_SELECT = 7
    CHANNEL_SELECT = 8


class ButtonStyle(enum.IntEnum):
    PRIMARY = 1
    SECONDARY = 2
    SUCCESS = 3
    DANGER = 4
    LINK = 5
    PREMIUM = 6


_COMPONENT_TYPES = frozenset(int(t) for t in ComponentType)
_BUTTON_STYLES = frozenset(int(s) for s in ButtonStyle)
SELECTS = frozenset(
    {
        ComponentType.STRING_SELECT,
        ComponentType.USER_SELECT,
        ComponentType.ROLE_SELECT,
        ComponentType.MENTIONABLE_SELECT,
        ComponentType.CHANNEL_SELECT,
    }
)
# The kinds of default_values each auto-populated select takes.
_DEFAULT_VALUE_TYPES = {
    ComponentType.USER_SELECT: {"user"},
    ComponentType.ROLE_SELECT: {"role"},
    ComponentType.MENTIONABLE_SELECT: {"user", "role"},
    ComponentType.CHANNEL_SELECT: {"channel"},
}


class _Walk:
    """One form's components: every problem under its path, and the custom_ids seen."""

    def __init__(self, check: FormCheck, root: str) -> None:
        self.check = check
        self.root = root
        self.custom_ids: set[str] = set()

    def fail(self, path: Path, code: str, message: str) -> None:
        self.check.errors.setdefault((self.root, *path), []).append(FieldError(code, message))

    def text(
        self,
        item: dict[str, object],
        path: Path,
        key: str,
        max_chars: int,
        *,
        required: bool = False,
        min_chars: int = 0,
    ) -> None:
        value = item.get(key)
        if value is None:
            if required:
                self.fail((*path, key), "BASE_TYPE_REQUIRED", "This field is required")
            return
        if not isinstance(value, str):
            self.fail((*path, key), "BASE_TYPE_STRING", "Must be a string.")
        elif not min_chars <= len(value) <= max_chars:
            self.fail(
                (*path, key),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {min_chars} and {max_chars} in length.",
            )

    def number(self, item: dict[str, object], path: Path, key: str, low: int, high: int) -> None:
        value = item.get(key)
        if value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail((*path, key), "NUMBER_TYPE_COERCE", "Must be an integer.")
        elif not low <= value <= high:
            self.fail(
                (*path, key), "NUMBER_TYPE_MAX", f"Must be between {low} and {high} inclusive."
            )

    def flag(self, item: dict[str, object], path: Path, key: str) -> None:
        if item.get(key) is not None and not isinstance(item.get(key), bool):
            self.fail((*path, key), "BASE_TYPE_BOOLEAN", "Must be either true or false.")

    def custom_id(self, item: dict[str, object], path: Path) -> None:
        self.text(item, path, "custom_id", CUSTOM_ID_MAX, required=True, min_chars=1)
        value = item.get("custom_id")
        if isinstance(value, str):
            if value in self.custom_ids:
                self.fail(
                    (*path, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            self.custom_ids.add(value)

    def emoji(self, item: dict[str, object], path: Path) -> None:
        emoji = item.get("emoji")
        if emoji is None:
            return
        if not isinstance(emoji, dict) or not (emoji.get("id") or emoji.get("name")):
            self.fail((*path, "emoji"), "BUTTON_COMPONENT_INVALID_EMOJI", "Invalid emoji")


def _dicts(walk: _Walk, value: object, path: Path, low: int, high: int) -> list[dict[str, object]]:
    """`value` as a list of objects with `low`..`high` items, or [] after failing."""
    if not isinstance(value, list):
        walk.fail(path, "BASE_TYPE_LIST", "Must be a list.")
        return []
    if not low <= len(value) <= high:
        walk.fail(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
        return []
    found = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            found.append(item)
        else:
            walk.fail((*path, index), "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
    return found if len(found) == len(value) else []


def _type_of(walk: _Walk, item: dict[str, object], path: Path) -> ComponentType | None:
    kind = item.get("type")
    if isinstance(kind, int) and not isinstance(kind, bool) and kind in _COMPONENT_TYPES:
        return ComponentType(kind)
    walk.fail((*path, "type"), "UNION_TYPE_CHOICES", "Not a component type this server knows.")
    return None


def _button(walk: _Walk, item: dict[str, object], path: Path) -> None:
    style = item.get("style")
    if not isinstance(style, int) or isinstance(style, bool) or style not in _BUTTON_STYLES:
        walk.fail((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5, 6).")
        return
    walk.text(item, path, "label", BUTTON_LABEL_MAX)
    walk.emoji(item, path)
    walk.flag(item, path, "disabled")
    if style == ButtonStyle.PREMIUM:
        walk.fail(
            (*path, "sku_id"),
            "BUTTON_COMPONENT_SKU_ID_INVALID",
            "Premium buttons need an SKU, and this server sells none.",
        )
        return
    if not item.get("label") and not item.get("emoji"):
        walk.fail((*path, "label"), "BASE_TYPE_REQUIRED", "A button needs a label or an emoji.")
    if style == ButtonStyle.LINK:
        walk.text(item, path, "url", URL_MAX, required=True, min_chars=1)
        url = item.get("url")
        if isinstance(url, str) and not url.startswith(("http://", "https://", "discord://")):
            walk.fail((*path, "url"), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        if item.get("custom_id") is not None:
            walk.fail(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_LINK_HAS_CUSTOM_ID",
                "A link button cannot have a custom id",
            )
        return
    if item.get("url") is not None:
        walk.fail(
            (*path, "url"), "BUTTON_COMPONENT_URL_NOT_ALLOWED", "Only link buttons have a url"
        )
    walk.custom_id(item, path)


def _select(walk: _Walk, kind: ComponentType, item: dict[str, object], path: Path) -> None:
    walk.custom_id(item, path)
    walk.text(item, path, "placeholder", PLACEHOLDER_MAX)
    walk.number(item, path, "min_values", 0, MAX_OPTIONS)
    walk.number(item, path, "max_values", 1, MAX_OPTIONS)
    walk.flag(item, path, "disabled")
    low, high = item.get("min_values", 1), item.get("max_values", 1)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        walk.fail(
            (*path, "min_values"),
            "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE",
            "min_values cannot be more than max_values.",
        )
    if kind == ComponentType.STRING_SELECT:
        options = _dicts(walk, item.get("options"), (*path, "options"), 1, MAX_OPTIONS)
        values: set[object] = set()
        for index, option in enumerate(options):
            at = (*path, "options", index)
            walk.text(option, at, "label", OPTION_TEXT_MAX, required=True, min_chars=1)
            walk.text(option, at, "value", OPTION_TEXT_MAX, required=True, min_chars=1)
            walk.text(option, at, "description", OPTION_TEXT_MAX)
            walk.emoji(option, at)
            walk.flag(option, at, "default")
            if option.get("value") in values:
                walk.fail(
                    (*at, "value"),
                    "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                    "Select option values must be unique",
                )
            values.add(option.get("value"))
        if options and isinstance(high, int) and high > len(options):
            walk.fail(
                (*path, "max_values"),
                "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
                "max_values cannot be more than the number of options.",
            )
        return
    if item.get("options") is not None:
        walk.fail((*path, "options"), "COMPONENT_FIELD_NOT_ALLOWED", "Only string selects.")
    kinds = _DEFAULT_VALUE_TYPES[kind]
    defaults = item.get("default_values")
    if defaults is not None:
        for index, default in enumerate(_dicts(walk, defaults, (*path, "default_values"), 0, 25)):
            if default.get("type") not in kinds or not isinstance(default.get("id"), (str, int)):
                walk.fail(
                    (*path, "default_values", index),
                    "SELECT_DEFAULT_VALUE_INVALID",
                    f"Needs an id and a type of {sorted(kinds)}.",
                )
    types = item.get("channel_types")
    if types is not None and (
        kind != ComponentType.CHANNEL_SELECT
        or not isinstance(types, list)
        or not all(isinstance(t, int) and not isinstance(t, bool) for t in types)
    ):
        walk.fail(
            (*path, "channel_types"),
            "BASE_TYPE_LIST",
            "Channel selects take a list of channel types.",
        )


def check_components(
    check: FormCheck, components: list[dict[str, object]]
) -> list[dict[str, object]]:
    """A message's `components`: at most 5 action rows, each of up to 5 buttons or one select;
    custom_ids unique within the message. Returns them as stored and shown. (Who may send
    interactive ones: core/domain/messages.py check_interactive.)"""
    walk = _Walk(check, "components")
    rows = _dicts(walk, components, (), 0, MAX_ROWS)
    for r, row in enumerate(rows):
        if _type_of(walk, row, (r,)) != ComponentType.ACTION_ROW:
            walk.fail((r, "type"), "COMPONENT_TYPE_INVALID", "Messages take action rows.")
            continue
        children = _dicts(walk, row.get("components"), (r, "components"), 1, MAX_BUTTONS_PER_ROW)
        kinds = [_type_of(walk, child, (r, "components", c)) for c, child in enumerate(children)]
        if any(kind in SELECTS for kind in kinds) and len(kinds) > 1:
            walk.fail(
                (r, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "A select menu must be alone in its action row.",
            )
        for c, (child, kind) in enumerate(zip(children, kinds, strict=True)):
            path = (r, "components", c)
            if kind == ComponentType.BUTTON:
                _button(walk, child, path)
            elif kind in SELECTS:
                assert kind is not None
                _select(walk, kind, child, path)
            elif kind is not None:
                walk.fail(
                    (*path, "type"),
                    "COMPONENT_TYPE_INVALID",
                    "Text inputs belong in modals; action rows hold buttons and selects.",
                )
    return _numbered(walk, [_normalized(row) for row in rows])


def check_modal_components(
    check: FormCheck, components: list[dict[str, object]]
) -> list[dict[str, object]]:
    """A modal's `components`: 1 to 5 action rows, each holding one text input."""
    walk = _Walk(check, "components")
    rows = _dicts(walk, components, (), 1, MAX_ROWS)
    for r, row in enumerate(rows):
        if _type_of(walk, row, (r,)) != ComponentType.ACTION_ROW:
            walk.fail((r, "type"), "COMPONENT_TYPE_INVALID", "Modals take action rows.")
            continue
        for c, item in enumerate(_dicts(walk, row.get("components"), (r, "components"), 1, 1)):
            path = (r, "components", c)
            if _type_of(walk, item, path) != ComponentType.TEXT_INPUT:
                walk.fail((*path, "type"), "COMPONENT_TYPE_INVALID", "Modals hold text inputs.")
                continue
            walk.custom_id(item, path)
            style = item.get("style")
            if style not in (1, 2) or isinstance(style, bool):
                walk.fail((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
            walk.text(item, path, "label", TEXT_INPUT_LABEL_MAX, required=True, min_chars=1)
            walk.number(item, path, "min_length", 0, TEXT_INPUT_LENGTH_MAX)
            walk.number(item, path, "max_length", 1, TEXT_INPUT_LENGTH_MAX)
            walk.flag(item, path, "required")
            walk.text(item, path, "value", TEXT_INPUT_LENGTH_MAX)
            walk.text(item, path, "placeholder", MODAL_PLACEHOLDER_MAX)
    return _numbered(walk, [_normalized(row) for row in rows])


def _numbered(walk: _Walk, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Gives each component without an `id` the next free one, counting from 1 in the order
    they appear, as Discord does; an `id` given must be a unique 32-bit positive integer."""
    everything = [
        path
        for r in range(len(rows))
        for path in [(r,), *((r, "components", c) for c in range(len(_children(rows[r]))))]
    ]

    def at(path: Path) -> dict[str, object]:
        row = rows[int(path[0])]
        return row if len(path) == 1 else _children(row)[int(path[2])]

    taken: set[int] = set()
    for path in everything:
        given = at(path).get("id")
        if given is None:
            continue
        if not isinstance(given, int) or isinstance(given, bool) or not 0 < given < 2**31:
            walk.fail((*path, "id"), "NUMBER_TYPE_MAX", "Must be between 1 and 2147483647.")
        elif given in taken:
            walk.fail((*path, "id"), "COMPONENT_ID_DUPLICATED", "Component ids must be unique.")
        else:
            taken.add(given)
    next_id = 1
    for path in everything:
        component = at(path)
        if component.get("id") is None:
            while next_id in taken:
                next_id += 1
            component["id"] = next_id
            taken.add(next_id)
    return rows


def is_interactive(components: list[dict[str, object]]) -> bool:
    """Whether any component (already checked) is one a person can interact with."""
    return any(
        child.get("type") != ComponentType.BUTTON or child.get("style") != ButtonStyle.LINK
        for row in components
        for child in _children(row)
    )


def walk(components: object) -> Iterator[dict[str, object]]:
    """Every component among a message's or a modal's, at any depth (rows, sections'
    accessories, labels, containers), each before what it holds."""
    if not isinstance(components, list):
        return
    for component in components:
        if not isinstance(component, dict):
            continue
        yield component
        yield from walk(component.get("components"))
        yield from walk([component.get("accessory")])
        yield from walk([component.get("component")])  # a label wraps one component


def find_component(components: object, custom_id: str) -> dict[str, object] | None:
    """The interactive component called `custom_id`, at any depth."""
    return next((c for c in walk(components) if c.get("custom_id") == custom_id), None)


def _children(row: dict[str, object]) -> list[dict[str, object]]:
    children = row.get("components")
    return [c for c in children if isinstance(c, dict)] if isinstance(children, list) else []


# What a component is stored and shown with; anything else a client sends is dropped.
_KEYS = frozenset(
    {
        "type", "id", "style", "label", "emoji", "custom_id", "url", "disabled", "options",
        "placeholder", "min_values", "max_values", "default_values", "channel_types",
        "components", "min_length", "max_length", "required", "value",
    }
)  # fmt: skip
_OPTION_KEYS = frozenset({"label", "value", "description", "emoji", "default"})


def _normalized(component: dict[str, object]) -> dict[str, object]:
    """As Discord shows it: known keys only, none given as null; children likewise."""
    shown = {k: v for k, v in component.items() if k in _KEYS and v is not None}
    if isinstance(shown.get("components"), list):
        shown["components"] = [_normalized(child) for child in _children(shown)]
    options = shown.get("options")
    if isinstance(options, list):
        shown["options"] = [
            {k: v for k, v in o.items() if k in _OPTION_KEYS and v is not None}
            for o in options
            if isinstance(o, dict)
        ]
    return shown

"""Localized names and descriptions of application commands: Discord's locales, the check of
a localization dictionary, what the list routes show in place of the dictionaries, and the
size Discord counts (the longest form of each field). Also the error paths every command
check writes into (`fail`), shared by commands and their options."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from core.errors import FieldError

if TYPE_CHECKING:
    from collections.abc import Callable

Localizations: TypeAlias = dict[str, str]
Path: TypeAlias = tuple[str | int, ...]
Errors: TypeAlias = dict[Path, list[FieldError]]

# Discord's locales ("Reference", Locales): the only keys a localization dictionary may have.
_LOCALE_NAMES = (
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el bg"
    " ru uk hi th zh-CN ja zh-TW ko"
)
LOCALES = frozenset(_LOCALE_NAMES.split())


def fail(errors: Errors, path: Path, code: str, message: str) -> None:
    errors.setdefault(path, []).append(FieldError(code, message))


def check_localizations(
    errors: Errors,
    path: Path,
    localizations: Localizations | None,
    check_value: Callable[[Errors, Path, str], None],
) -> Localizations | None:
    """Keys must be Discord locales; each value follows the field's own rule. An empty
    dictionary is stored as none."""
    if not localizations:
        return None
    for locale, value in localizations.items():
        if locale not in LOCALES:
            fail(
                errors,
                (*path, locale),
                "ENUM_TYPE_COERCE",
                f'Value "{locale}" is not a valid enum value.',
            )
        else:
            check_value(errors, (*path, locale), value)
    return dict(localizations)


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


def longest(default: str, localizations: object) -> int:
    """The length Discord counts for a field: its longest form, default or localized."""
    lengths = [len(default)]
    if isinstance(localizations, dict):
        lengths.extend(len(str(value)) for value in localizations.values())
    return max(lengths)


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

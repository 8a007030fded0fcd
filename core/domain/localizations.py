"""Localized names and descriptions of application commands: Discord's locales, the check of
a localization dictionary, what the list routes show in place of the dictionaries, and the
size Discord counts (the longest form of each field)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.errors import FieldPath, FormCheck

Localizations: TypeAlias = dict[str, str]

# Discord's locales ("Reference", Locales): the only keys a localization dictionary may have.
_LOCALE_NAMES = (
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el bg"
    " ru uk hi th zh-CN ja zh-TW ko"
)
LOCALES = frozenset(_LOCALE_NAMES.split())


def check_localizations(
    check: FormCheck,
    path: FieldPath,
    localizations: Localizations | None,
    check_value: Callable[[FormCheck, FieldPath, str], None],
) -> Localizations | None:
    """Keys must be Discord locales; each value follows the field's own rule. An empty
    dictionary is stored as none."""
    if not localizations:
        return None
    for locale, value in localizations.items():
        if locale not in LOCALES:
            check.fail_at(
                (*path, locale),
                "ENUM_TYPE_COERCE",
                f'Value "{locale}" is not a valid enum value.',
            )
        else:
            check_value(check, (*path, locale), value)
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


def longest(default: str, localizations: object) -> int:
    """The length Discord counts for a field: its longest form, default or localized."""
    lengths = [len(default)]
    if isinstance(localizations, dict):
        lengths.extend(len(str(value)) for value in localizations.values())
    return max(lengths)

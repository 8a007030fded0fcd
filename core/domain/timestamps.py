"""Discord's timestamps: ISO 8601 in UTC, always with microseconds, `+00:00` not `Z`."""

from __future__ import annotations

import datetime as dt


def iso(moment: dt.datetime) -> str:
    """`2026-11-21T10:17:17.000000+00:00`, whatever the datetime's own zone."""
    if moment.tzinfo is not dt.UTC:  # (most are UTC already: a page has a hundred of these)
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat(timespec="microseconds")


def iso_or_none(moment: dt.datetime | None) -> str | None:
    return None if moment is None else iso(moment)

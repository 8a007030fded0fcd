"""Audit log entries: Discord's action types, and the `changes` list of one edit."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


class AuditAction(enum.IntEnum):
    GUILD_UPDATE = 1
    CHANNEL_CREATE = 10
    CHANNEL_UPDATE = 11
    CHANNEL_DELETE = 12
    CHANNEL_OVERWRITE_CREATE = 13
    CHANNEL_OVERWRITE_UPDATE = 14
    CHANNEL_OVERWRITE_DELETE = 15
    MEMBER_KICK = 20
    MEMBER_BAN_ADD = 22
    MEMBER_BAN_REMOVE = 23
    MEMBER_UPDATE = 24
    MEMBER_ROLE_UPDATE = 25
    ROLE_CREATE = 30
    ROLE_UPDATE = 31
    ROLE_DELETE = 32
    INVITE_CREATE = 40
    INVITE_UPDATE = 41
    INVITE_DELETE = 42
    WEBHOOK_CREATE = 50
    WEBHOOK_UPDATE = 51
    WEBHOOK_DELETE = 52


REASON_MAX = 512  # Discord's limit on X-Audit-Log-Reason


def changes(
    before: Mapping[str, object] | None, after: Mapping[str, object] | None
) -> list[dict[str, object]]:
    """Discord's `changes`: one `{key, old_value?, new_value?}` per key whose value differs.
    `before` None is a creation, `after` None a deletion."""
    keys = sorted(set(before or {}) | set(after or {}))
    result: list[dict[str, object]] = []
    for key in keys:
        old, new = (before or {}).get(key), (after or {}).get(key)
        if old == new:
            continue
        change: dict[str, object] = {"key": key}
        if before is not None and old is not None:
            change["old_value"] = old
        if after is not None and new is not None:
            change["new_value"] = new
        result.append(change)
    return result

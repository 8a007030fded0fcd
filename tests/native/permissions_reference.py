"""Discord's permission algorithm written out plainly, as the "Permissions" topic describes it.
The yardstick for the native engine: slow, obvious, and checked by hand."""

from __future__ import annotations

ALL = (1 << 64) - 1
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17

ROLE, MEMBER = 0, 1


def reference_permissions(
    *,
    guild_id: int,
    owner_id: int,
    roles: dict[int, int],
    user_id: int,
    role_ids: list[int],
    timed_out: bool,
    overwrites: list[tuple[int, int, int, int]] | None,
    text: bool,
) -> int:
    if user_id == owner_id:
        return ALL
    member_roles = [r for r in role_ids if r in roles and r != guild_id]
    permissions = roles[guild_id]
    for role in member_roles:
        permissions |= roles[role]
    if permissions & ADMINISTRATOR:
        return ALL
    if overwrites is not None:
        # @everyone's overwrite first.
        for target, kind, _, deny in overwrites:
            if kind == ROLE and target == guild_id:
                permissions &= ~deny
        for target, kind, allow, _ in overwrites:
            if kind == ROLE and target == guild_id:
                permissions |= allow
        # Then the member's roles: every deny, then every allow.
        role_allow = role_deny = 0
        for target, kind, allow, deny in overwrites:
            if kind == ROLE and target in member_roles:
                role_allow |= allow
                role_deny |= deny
        permissions &= ~role_deny
        permissions |= role_allow
        # Then the member's own.
        member_allow = member_deny = 0
        for target, kind, allow, deny in overwrites:
            if kind == MEMBER and target == user_id:
                member_allow |= allow
                member_deny |= deny
        permissions &= ~member_deny
        permissions |= member_allow
        if not permissions & VIEW_CHANNEL:
            return 0
        if text and not permissions & SEND_MESSAGES:
            permissions &= ~(MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS)
    if timed_out:
        permissions &= VIEW_CHANNEL | READ_MESSAGE_HISTORY
    return permissions & ALL


def reference_mask(
    *,
    guild_id: int,
    owner_id: int,
    roles: dict[int, int],
    members: list[tuple[int, list[int], bool]],
    overwrites: list[tuple[int, int, int, int]],
    text: bool,
    wanted: int,
) -> bytes:
    """For each `(user_id, role_ids, timed_out)` member: 1 when they hold all of `wanted`."""
    return bytes(
        int(
            reference_permissions(
                guild_id=guild_id,
                owner_id=owner_id,
                roles=roles,
                user_id=user_id,
                role_ids=role_ids,
                timed_out=timed_out,
                overwrites=overwrites,
                text=text,
            )
            & wanted
            == wanted
        )
        for user_id, role_ids, timed_out in members
    )

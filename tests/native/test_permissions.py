"""The native permission engine against Discord's documented behaviour and a plain reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.permissions import (
    ALL_PERMISSIONS,
    GuildPermissions,
    OverwriteType,
    Permission,
    PermissionsValueError,
)
from tests.native.permissions_reference import reference_mask, reference_permissions

P = Permission
GUILD, OWNER = 1000, 1
MODS, MUTED, ADMINS = 1001, 1002, 1003
ALICE, BOB = 10, 11
EVERYONE = (
    P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY | P.EMBED_LINKS | P.ATTACH_FILES
)
ROLES = [
    (GUILD, EVERYONE),
    (MODS, P.MANAGE_MESSAGES | P.MENTION_EVERYONE),
    (MUTED, 0),
    (ADMINS, P.ADMINISTRATOR),
]
ROLE, MEMBER = OverwriteType.ROLE, OverwriteType.MEMBER

guild = GuildPermissions(GUILD, OWNER, [(r, int(p)) for r, p in ROLES])


@pytest.mark.parametrize(
    ("user", "roles", "timed_out", "overwrites", "text", "expected"),
    [
        # Guild-wide: @everyone, plus the roles'.
        pytest.param(ALICE, [], False, None, False, EVERYONE, id="everyone-only"),
        pytest.param(ALICE, [MODS], False, None, False, EVERYONE | P.MANAGE_MESSAGES | P.MENTION_EVERYONE, id="role-adds"),
        pytest.param(OWNER, [], False, [(GUILD, ROLE, 0, ALL_PERMISSIONS)], True, ALL_PERMISSIONS, id="owner-ignores-overwrites"),
        pytest.param(ALICE, [ADMINS], False, [(ALICE, MEMBER, 0, ALL_PERMISSIONS)], True, ALL_PERMISSIONS, id="administrator-ignores-overwrites"),
        # Overwrites: @everyone, then roles (deny then allow), then the member.
        pytest.param(ALICE, [], False, [(GUILD, ROLE, 0, P.VIEW_CHANNEL)], False, 0, id="everyone-denied-view-sees-nothing"),
        pytest.param(ALICE, [MODS], False, [(GUILD, ROLE, 0, P.VIEW_CHANNEL), (MODS, ROLE, P.VIEW_CHANNEL, 0)], False,
                     EVERYONE | P.MANAGE_MESSAGES | P.MENTION_EVERYONE, id="role-allow-beats-everyone-deny"),
        pytest.param(ALICE, [MODS, MUTED], False, [(MUTED, ROLE, 0, P.EMBED_LINKS), (MODS, ROLE, P.EMBED_LINKS, 0)], False,
                     EVERYONE | P.MANAGE_MESSAGES | P.MENTION_EVERYONE, id="one-roles-allow-beats-anothers-deny"),
        pytest.param(ALICE, [MODS], False, [(MODS, ROLE, P.EMBED_LINKS, 0), (ALICE, MEMBER, 0, P.EMBED_LINKS)], False,
                     (EVERYONE | P.MANAGE_MESSAGES | P.MENTION_EVERYONE) & ~P.EMBED_LINKS, id="member-deny-beats-role-allow"),
        pytest.param(ALICE, [], False, [(GUILD, ROLE, 0, P.VIEW_CHANNEL), (ALICE, MEMBER, P.VIEW_CHANNEL, 0)], False, EVERYONE,
                     id="member-allow-beats-everyone-deny"),
        pytest.param(BOB, [], False, [(ALICE, MEMBER, 0, P.VIEW_CHANNEL)], False, EVERYONE, id="someone-elses-overwrite"),
        # Implicit rules.
        pytest.param(ALICE, [MODS], False, [(GUILD, ROLE, 0, P.SEND_MESSAGES)], True,
                     P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY | P.MANAGE_MESSAGES, id="text-no-send-loses-embeds-files-mentions"),
        pytest.param(ALICE, [MODS], False, [(GUILD, ROLE, 0, P.SEND_MESSAGES)], False,
                     (EVERYONE | P.MANAGE_MESSAGES | P.MENTION_EVERYONE) & ~P.SEND_MESSAGES, id="voice-keeps-them"),
        pytest.param(ALICE, [MODS], True, [], True, P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY, id="timed-out-in-channel"),
        pytest.param(ALICE, [MODS], True, None, False, P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY, id="timed-out-guild-wide"),
        pytest.param(ALICE, [ADMINS], True, None, False, ALL_PERMISSIONS, id="administrators-cannot-be-timed-out"),
        pytest.param(ALICE, [424242, GUILD], False, [(424242, ROLE, P.ADMINISTRATOR, 0)], False, EVERYONE, id="unknown-role-grants-nothing"),
    ],
)  # fmt: skip
def test_discords_documented_rules(
    user: int,
    roles: list[int],
    timed_out: bool,
    overwrites: list[tuple[int, int, int, int]] | None,
    text: bool,
    expected: int,
) -> None:
    channel = None
    if overwrites is not None:
        channel = guild.channel(
            [(i, int(t), int(a), int(d)) for i, t, a, d in overwrites], text=text
        )
    assert guild.resolve(user, roles, timed_out=timed_out, channel=channel) == expected


def test_high_bits_pass_through() -> None:
    bits = P.VIEW_CHANNEL | P.PIN_MESSAGES | P.BYPASS_SLOWMODE | (1 << 63)
    high = GuildPermissions(GUILD, OWNER, [(GUILD, int(bits))])
    assert high.resolve(ALICE, [], channel=high.channel([])) == bits


@pytest.mark.parametrize(
    ("roles", "says"),
    [
        ([(MODS, 0)], "must include @everyone"),
        ([(GUILD, 0), (MODS, 0), (MODS, 1)], "role 1001 is listed twice"),
    ],
)
def test_a_guild_needs_everyone_and_unique_roles(roles: list[tuple[int, int]], says: str) -> None:
    with pytest.raises(PermissionsValueError, match=says):
        GuildPermissions(GUILD, OWNER, roles)


def test_bad_overwrite_type_and_out_of_range_bits_are_refused() -> None:
    with pytest.raises(PermissionsValueError, match="neither 0 \\(role\\) nor 1 \\(member\\)"):
        guild.channel([(GUILD, 2, 0, 0)])
    with pytest.raises(OverflowError):
        GuildPermissions(GUILD, OWNER, [(GUILD, 1 << 64)])
    with pytest.raises(OverflowError):
        guild.channel([(GUILD, 0, -1, 0)])


def test_bulk_mask_follows_snapshot_order() -> None:
    members = guild.members(
        [(ALICE, [], False), (BOB, [MODS], False), (OWNER, [], False), (ALICE, [MODS], True)]
    )
    channel = guild.channel([(GUILD, 0, 0, int(P.VIEW_CHANNEL)), (MODS, 0, int(P.VIEW_CHANNEL), 0)])
    assert len(members) == 4
    assert members.who_has(P.VIEW_CHANNEL, channel) == bytes([0, 1, 1, 1])
    assert members.who_has(P.VIEW_CHANNEL | P.MANAGE_MESSAGES, channel) == bytes([0, 1, 1, 0])
    assert guild.members([]).who_has(P.VIEW_CHANNEL, channel) == b""


def test_a_channel_built_for_an_older_snapshot_is_refused() -> None:
    # After a role change the guild is rebuilt; a channel laid out for the old roles would
    # index them wrongly, so it must be rebuilt too.
    channel = guild.channel([])
    rebuilt = GuildPermissions(GUILD, OWNER, [(r, int(p)) for r, p in ROLES])
    with pytest.raises(PermissionsValueError, match="built for another GuildPermissions"):
        rebuilt.resolve(ALICE, [], channel=channel)
    with pytest.raises(PermissionsValueError, match="built for another GuildPermissions"):
        rebuilt.members([(ALICE, [], False)]).who_has(P.VIEW_CHANNEL, channel)


# Property tests: random guilds, members and overwrites; native must equal the reference.

ROLE_IDS = list(range(GUILD + 1, GUILD + 9))
USER_IDS = list(range(1, 13))
bits = st.integers(0, ALL_PERMISSIONS)
# Mostly without ADMINISTRATOR, so the overwrite rules get exercised.
role_bits = st.one_of(
    bits.map(lambda b: b & ~P.ADMINISTRATOR), bits.map(lambda b: b & ~P.ADMINISTRATOR), bits
)
guild_roles = st.dictionaries(st.sampled_from(ROLE_IDS), role_bits, max_size=8).flatmap(
    lambda roles: role_bits.map(lambda everyone: {GUILD: everyone, **roles})
)
overwrite_lists = st.lists(
    st.tuples(st.sampled_from([GUILD, *ROLE_IDS, *USER_IDS]), st.sampled_from([0, 1]), bits, bits),
    max_size=12,
)
members = st.tuples(
    st.sampled_from(USER_IDS),
    st.lists(st.sampled_from([GUILD, *ROLE_IDS, 99]), max_size=6),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(
    roles=guild_roles,
    owner=st.sampled_from(USER_IDS),
    member=members,
    overwrites=st.one_of(st.none(), overwrite_lists),
    text=st.booleans(),
)
def test_single_resolution_matches_the_reference(
    roles: dict[int, int],
    owner: int,
    member: tuple[int, list[int], bool],
    overwrites: list[tuple[int, int, int, int]] | None,
    text: bool,
) -> None:
    user_id, role_ids, timed_out = member
    native = GuildPermissions(GUILD, owner, list(roles.items()))
    channel = None if overwrites is None else native.channel(overwrites, text=text)
    expected = reference_permissions(
        guild_id=GUILD, owner_id=owner, roles=roles, user_id=user_id, role_ids=role_ids,
        timed_out=timed_out, overwrites=overwrites, text=text,
    )  # fmt: skip
    assert native.resolve(user_id, role_ids, timed_out=timed_out, channel=channel) == expected


@settings(max_examples=200, deadline=None)
@given(
    roles=guild_roles,
    owner=st.sampled_from(USER_IDS),
    snapshot=st.lists(members, max_size=30),
    overwrites=overwrite_lists,
    wanted=st.one_of(st.sampled_from([int(p) for p in P]), bits),
    text=st.booleans(),
)
def test_bulk_mask_matches_the_reference(
    roles: dict[int, int],
    owner: int,
    snapshot: list[tuple[int, list[int], bool]],
    overwrites: list[tuple[int, int, int, int]],
    wanted: int,
    text: bool,
) -> None:
    guild_roles = GuildPermissions(GUILD, owner, list(roles.items()))
    native = guild_roles.members(snapshot)
    expected = reference_mask(
        guild_id=GUILD,
        owner_id=owner,
        roles=roles,
        members=snapshot,
        overwrites=overwrites,
        text=text,
        wanted=wanted,
    )
    assert native.who_has(wanted, guild_roles.channel(overwrites, text=text)) == expected

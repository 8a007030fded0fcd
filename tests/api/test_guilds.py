"""Guilds, channels, roles and the audit log over real HTTP, on the native permission engine."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

import pytest

from core.domain.guilds import DEFAULT_EVERYONE_PERMISSIONS
from core.domain.permissions import Permission
from core.store import guilds as guild_store
from tests.api.test_auth import field_errors

if TYPE_CHECKING:
    from tests.running import ApiClient, Person

P = Permission
MISSING_PERMISSIONS = {"code": 50013, "message": "Missing Permissions"}
UNKNOWN_GUILD = {"code": 10004, "message": "Unknown Guild"}
UNKNOWN_CHANNEL = {"code": 10003, "message": "Unknown Channel"}


async def new_guild(api: ApiClient, owner: Person, name: str = "Test Guild") -> dict[str, object]:
    response = await api.http.post("/api/v10/guilds", headers=owner.auth, json={"name": name})
    assert response.status_code == 201, response.text
    guild: dict[str, object] = response.json()
    return guild


async def add_member(
    api: ApiClient, guild_id: object, person: Person, role_ids: tuple[int, ...] = ()
) -> None:
    # Joining arrives with invites; here the test seats the member directly.
    await api.services.db.run(
        lambda c: guild_store.insert_member(c, int(str(guild_id)), person.id, role_ids)
    )


async def new_role(
    api: ApiClient, owner: Person, guild_id: object, **fields: object
) -> dict[str, object]:
    response = await api.http.post(
        f"/api/v10/guilds/{guild_id}/roles", headers=owner.auth, json=fields
    )
    assert response.status_code == 200, response.text
    role: dict[str, object] = response.json()
    return role


async def outbox_events(api: ApiClient, guild_id: object) -> list[str]:
    rows = await api.services.db.run(
        lambda c: c.execute(
            "SELECT event FROM outbox WHERE guild_id = %s ORDER BY id", (int(str(guild_id)),)
        ).fetchall()
    )
    return [str(event) for (event,) in rows]


async def test_new_guild_has_everyone_two_categories_and_its_owner(api: ApiClient) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner, "  Book Club  ")
    assert guild["name"] == "Book Club"
    assert guild["owner_id"] == str(owner.id)
    roles = guild["roles"]
    assert isinstance(roles, list)
    (everyone,) = roles
    assert everyone["id"] == guild["id"]
    assert everyone["name"] == "@everyone"
    assert int(everyone["permissions"]) == DEFAULT_EVERYONE_PERMISSIONS
    channels = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
    ).json()
    by_name = {c["name"]: c for c in channels}
    assert {(c["name"], c["type"]) for c in channels} == {
        ("Text Channels", 4),
        ("Voice Channels", 4),
        ("general", 0),
        ("General", 2),
    }
    assert by_name["general"]["parent_id"] == by_name["Text Channels"]["id"]
    assert by_name["General"]["parent_id"] == by_name["Voice Channels"]["id"]
    assert guild["system_channel_id"] == by_name["general"]["id"]
    counted = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}?with_counts=true", headers=owner.auth)
    ).json()
    assert counted["approximate_member_count"] == 1
    assert await outbox_events(api, guild["id"]) == ["GUILD_CREATE"]


async def test_a_guild_you_are_not_in_is_unknown_like_one_that_does_not_exist(
    api: ApiClient,
) -> None:
    owner, stranger = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    theirs = await api.http.get(f"/api/v10/guilds/{guild['id']}", headers=stranger.auth)
    nowhere = await api.http.get("/api/v10/guilds/1234567890123456", headers=stranger.auth)
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json() == nowhere.json() == UNKNOWN_GUILD


async def test_edit_guild_writes_the_audit_log_with_the_reason(api: ApiClient) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner)
    reason = urllib.parse.quote("tidying up ✨")
    edited = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}",
        headers={**owner.auth, "X-Audit-Log-Reason": reason},
        json={"name": "Renamed", "verification_level": 2},
    )
    assert edited.status_code == 200
    assert (edited.json()["name"], edited.json()["verification_level"]) == ("Renamed", 2)
    log = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/audit-logs", headers=owner.auth)
    ).json()
    (entry,) = log["audit_log_entries"]
    assert entry["action_type"] == 1
    assert entry["user_id"] == str(owner.id)
    assert entry["reason"] == "tidying up ✨"
    assert {"key": "name", "old_value": "Test Guild", "new_value": "Renamed"} in entry["changes"]
    assert await outbox_events(api, guild["id"]) == [
        "GUILD_CREATE",
        "GUILD_AUDIT_LOG_ENTRY_CREATE",
        "GUILD_UPDATE",
    ]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "x"}, {"name": ["BASE_TYPE_BAD_LENGTH"]}),
        ({"verification_level": 9}, {"verification_level": ["BASE_TYPE_CHOICES"]}),
        ({"afk_timeout": 61}, {"afk_timeout": ["BASE_TYPE_CHOICES"]}),
        ({"system_channel_id": "1"}, {"system_channel_id": ["CHANNEL_INVALID"]}),
        ({"owner_id": "1"}, {"owner_id": ["UNSUPPORTED"]}),
        ({"owner": "me", "name": "x"}, {"name": ["BASE_TYPE_BAD_LENGTH"]}),  # owner: ignored
    ],
)
async def test_bad_guild_edits_change_nothing(
    api: ApiClient, body: dict[str, object], errors: dict[str, list[str]]
) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner)
    response = await api.http.patch(f"/api/v10/guilds/{guild['id']}", headers=owner.auth, json=body)
    assert field_errors(response) == errors
    after = (await api.http.get(f"/api/v10/guilds/{guild['id']}", headers=owner.auth)).json()
    assert after == guild
    assert await outbox_events(api, guild["id"]) == ["GUILD_CREATE"]


async def test_members_need_manage_guild_to_edit_and_only_the_owner_deletes(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], member)
    edit = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}", headers=member.auth, json={"name": "Mine now"}
    )
    delete = await api.http.delete(f"/api/v10/guilds/{guild['id']}", headers=member.auth)
    assert edit.json() == delete.json() == MISSING_PERMISSIONS
    assert (await api.http.get(f"/api/v10/guilds/{guild['id']}", headers=owner.auth)).json()[
        "name"
    ] == "Test Guild"
    assert (
        await api.http.delete(f"/api/v10/guilds/{guild['id']}", headers=owner.auth)
    ).status_code == 204
    assert (
        await api.http.get(f"/api/v10/guilds/{guild['id']}", headers=owner.auth)
    ).json() == UNKNOWN_GUILD


async def test_my_guilds_lists_permissions_and_pages(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    first, second = await new_guild(api, owner, "First"), await new_guild(api, owner, "Second")
    await add_member(api, second["id"], member)
    mine = (await api.http.get("/api/v10/users/@me/guilds", headers=owner.auth)).json()
    theirs = (await api.http.get("/api/v10/users/@me/guilds", headers=member.auth)).json()
    assert [g["name"] for g in mine] == ["First", "Second"]
    assert all(g["owner"] and int(g["permissions"]) == 2**64 - 1 for g in mine)
    assert theirs == [
        {
            "id": second["id"],
            "name": "Second",
            "icon": None,
            "banner": None,
            "owner": False,
            "permissions": str(DEFAULT_EVERYONE_PERMISSIONS),
            "features": [],
        }
    ]
    after_first = (
        await api.http.get(f"/api/v10/users/@me/guilds?after={first['id']}", headers=owner.auth)
    ).json()
    assert [g["name"] for g in after_first] == ["Second"]
    limited = (await api.http.get("/api/v10/users/@me/guilds?limit=1", headers=owner.auth)).json()
    assert [g["name"] for g in limited] == ["First"]
    bad = await api.http.get("/api/v10/users/@me/guilds?limit=0", headers=owner.auth)
    assert field_errors(bad) == {"limit": ["NUMBER_TYPE_MAX"]}


async def test_members_leave_but_the_owner_cannot(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], member)
    assert (
        await api.http.delete(f"/api/v10/users/@me/guilds/{guild['id']}", headers=member.auth)
    ).status_code == 204
    assert (await api.http.get("/api/v10/users/@me/guilds", headers=member.auth)).json() == []
    stuck = await api.http.delete(f"/api/v10/users/@me/guilds/{guild['id']}", headers=owner.auth)
    assert stuck.status_code == 400
    assert stuck.json() == {"code": 50055, "message": "Invalid Guild"}
    assert "GUILD_MEMBER_REMOVE" in await outbox_events(api, guild["id"])


async def test_private_channel_is_hidden_from_members_who_cannot_view_it(api: ApiClient) -> None:
    owner, member, stranger = await api.register(), await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], member)
    private = await api.http.post(
        f"/api/v10/guilds/{guild['id']}/channels",
        headers=owner.auth,
        json={
            "name": "staff",
            "permission_overwrites": [
                {"id": guild["id"], "type": 0, "deny": str(int(P.VIEW_CHANNEL))}
            ],
        },
    )
    assert private.status_code == 201
    channel = private.json()
    assert channel["permission_overwrites"] == [
        {"id": guild["id"], "type": 0, "allow": "0", "deny": str(int(P.VIEW_CHANNEL))}
    ]
    listed = [
        c["name"]
        for c in (
            await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=member.auth)
        ).json()
    ]
    assert "staff" not in listed
    assert "general" in listed
    as_member = await api.http.get(f"/api/v10/channels/{channel['id']}", headers=member.auth)
    as_stranger = await api.http.get(f"/api/v10/channels/{channel['id']}", headers=stranger.auth)
    assert as_member.status_code == 403
    assert as_member.json() == {"code": 50001, "message": "Missing Access"}
    assert as_stranger.json() == UNKNOWN_CHANNEL
    # A member overwrite lets this one member in.
    put = await api.http.put(
        f"/api/v10/channels/{channel['id']}/permissions/{member.id}",
        headers=owner.auth,
        json={"type": 1, "allow": str(int(P.VIEW_CHANNEL)), "deny": "0"},
    )
    assert put.status_code == 204
    assert (
        await api.http.get(f"/api/v10/channels/{channel['id']}", headers=member.auth)
    ).status_code == 200


async def test_nobody_grants_a_permission_they_lack(api: ApiClient) -> None:
    owner, moderator = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    role = await new_role(
        api,
        owner,
        guild["id"],
        name="mods",
        permissions=str(int(P.MANAGE_ROLES | P.MANAGE_CHANNELS)),
    )
    await add_member(api, guild["id"], moderator, (int(str(role["id"])),))
    general = next(
        c
        for c in (
            await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
        ).json()
        if c["name"] == "general"
    )
    grant_admin = await api.http.put(
        f"/api/v10/channels/{general['id']}/permissions/{moderator.id}",
        headers=moderator.auth,
        json={"type": 1, "allow": str(int(P.ADMINISTRATOR)), "deny": "0"},
    )
    role_with_ban = await api.http.post(
        f"/api/v10/guilds/{guild['id']}/roles",
        headers=moderator.auth,
        json={"name": "x", "permissions": str(int(P.BAN_MEMBERS))},
    )
    assert grant_admin.json() == role_with_ban.json() == MISSING_PERMISSIONS
    unchanged = (
        await api.http.get(f"/api/v10/channels/{general['id']}", headers=owner.auth)
    ).json()
    assert unchanged["permission_overwrites"] == []
    # What they hold, they may grant.
    fine = await api.http.put(
        f"/api/v10/channels/{general['id']}/permissions/{moderator.id}",
        headers=moderator.auth,
        json={"type": 1, "allow": "0", "deny": str(int(P.SEND_MESSAGES))},
    )
    assert fine.status_code == 204  # they hold SEND_MESSAGES (through @everyone), so may deny it
    written = (await api.http.get(f"/api/v10/channels/{general['id']}", headers=owner.auth)).json()
    assert written["permission_overwrites"] == [
        {"id": str(moderator.id), "type": 1, "allow": "0", "deny": str(int(P.SEND_MESSAGES))}
    ]


async def test_role_hierarchy_is_enforced(api: ApiClient) -> None:
    owner, moderator = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    low = await new_role(api, owner, guild["id"], name="low")
    mods = await new_role(
        api, owner, guild["id"], name="mods", permissions=str(int(P.MANAGE_ROLES))
    )
    high = await new_role(api, owner, guild["id"], name="high")
    roles = {
        r["name"]: r
        for r in (
            await api.http.get(f"/api/v10/guilds/{guild['id']}/roles", headers=owner.auth)
        ).json()
    }
    assert [roles[n]["position"] for n in ("@everyone", "high", "mods", "low")] == [0, 1, 2, 3]
    # Put them in order low < mods < high.
    moved = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/roles",
        headers=owner.auth,
        json=[
            {"id": low["id"], "position": 1},
            {"id": mods["id"], "position": 2},
            {"id": high["id"], "position": 3},
        ],
    )
    assert [(r["name"], r["position"]) for r in moved.json()] == [
        ("@everyone", 0),
        ("low", 1),
        ("mods", 2),
        ("high", 3),
    ]
    await add_member(api, guild["id"], moderator, (int(str(mods["id"])),))

    below = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/roles/{low['id']}",
        headers=moderator.auth,
        json={"name": "lower"},
    )
    own = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/roles/{mods['id']}",
        headers=moderator.auth,
        json={"name": "gods"},
    )
    above = await api.http.delete(
        f"/api/v10/guilds/{guild['id']}/roles/{high['id']}", headers=moderator.auth
    )
    everyone = await api.http.delete(
        f"/api/v10/guilds/{guild['id']}/roles/{guild['id']}", headers=owner.auth
    )
    assert below.status_code == 200
    assert own.json() == above.json() == MISSING_PERMISSIONS
    assert everyone.status_code == 400
    assert everyone.json() == {"code": 50028, "message": "Invalid Role"}
    names = {
        r["name"]
        for r in (
            await api.http.get(f"/api/v10/guilds/{guild['id']}/roles", headers=owner.auth)
        ).json()
    }
    assert names == {"@everyone", "lower", "mods", "high"}


async def test_role_features_that_do_not_exist_are_refused_not_dropped(api: ApiClient) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner)
    url = f"/api/v10/guilds/{guild['id']}/roles"
    with_icon = await api.http.post(
        url, headers=owner.auth, json={"name": "x", "icon": "data:image/png;base64,AA=="}
    )
    gradient = await api.http.post(
        url,
        headers=owner.auth,
        json={"name": "x", "colors": {"primary_color": 1, "secondary_color": 2}},
    )
    assert field_errors(with_icon) == {"icon": ["ROLE_ICONS_UNSUPPORTED"]}
    assert field_errors(gradient) == {"colors": ["ROLE_COLORS_UNSUPPORTED"]}
    colored = await api.http.post(
        url,
        headers=owner.auth,
        json={"name": "green", "icon": None, "colors": {"primary_color": 65280}},
    )
    assert colored.json()["color"] == 65280


async def test_deleting_a_role_takes_it_off_members_and_overwrites(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    role = await new_role(api, owner, guild["id"], name="temp")
    role_id = int(str(role["id"]))
    await add_member(api, guild["id"], member, (role_id,))
    general = next(
        c
        for c in (
            await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
        ).json()
        if c["name"] == "general"
    )
    await api.http.put(
        f"/api/v10/channels/{general['id']}/permissions/{role_id}",
        headers=owner.auth,
        json={"type": 0, "allow": "0", "deny": "2048"},
    )
    assert (
        await api.http.delete(f"/api/v10/guilds/{guild['id']}/roles/{role_id}", headers=owner.auth)
    ).status_code == 204
    row = await api.services.db.run(
        lambda c: guild_store.member_of(c, int(str(guild["id"])), member.id)
    )
    assert row is not None
    assert row.role_ids == []
    channel = (await api.http.get(f"/api/v10/channels/{general['id']}", headers=owner.auth)).json()
    assert channel["permission_overwrites"] == []


async def test_audit_log_needs_view_audit_log_and_filters(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], member)
    await new_role(api, owner, guild["id"], name="a")
    await api.http.post(
        f"/api/v10/guilds/{guild['id']}/channels",
        headers=owner.auth,
        json={"name": "news", "type": 5},
    )
    refused = await api.http.get(f"/api/v10/guilds/{guild['id']}/audit-logs", headers=member.auth)
    assert refused.json() == MISSING_PERMISSIONS
    everything = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/audit-logs", headers=owner.auth)
    ).json()
    assert [e["action_type"] for e in everything["audit_log_entries"]] == [10, 30]  # newest first
    roles_only = (
        await api.http.get(
            f"/api/v10/guilds/{guild['id']}/audit-logs?action_type=30", headers=owner.auth
        )
    ).json()
    assert [e["action_type"] for e in roles_only["audit_log_entries"]] == [30]
    one = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/audit-logs?limit=1", headers=owner.auth)
    ).json()
    assert len(one["audit_log_entries"]) == 1


async def test_channel_edits_and_deletes_are_recorded(api: ApiClient) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner)
    created = (
        await api.http.post(
            f"/api/v10/guilds/{guild['id']}/channels",
            headers=owner.auth,
            json={"name": "chat", "topic": "t"},
        )
    ).json()
    edited = await api.http.patch(
        f"/api/v10/channels/{created['id']}",
        headers=owner.auth,
        json={"name": "chatter", "rate_limit_per_user": 5},
    )
    assert (edited.json()["name"], edited.json()["rate_limit_per_user"]) == ("chatter", 5)
    bad = await api.http.patch(
        f"/api/v10/channels/{created['id']}",
        headers=owner.auth,
        json={"rate_limit_per_user": 99999},
    )
    assert field_errors(bad) == {"rate_limit_per_user": ["NUMBER_TYPE_MAX"]}
    deleted = await api.http.delete(f"/api/v10/channels/{created['id']}", headers=owner.auth)
    assert deleted.json()["name"] == "chatter"
    assert (
        await api.http.get(f"/api/v10/channels/{created['id']}", headers=owner.auth)
    ).json() == UNKNOWN_CHANNEL
    events = await outbox_events(api, guild["id"])
    assert [e for e in events if e.startswith("CHANNEL_")] == [
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "CHANNEL_DELETE",
    ]


async def test_channel_positions_and_overwrite_removal(api: ApiClient) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner)
    channels = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
    ).json()
    by_name = {c["name"]: c for c in channels}
    moved = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/channels",
        headers=owner.auth,
        json=[
            {
                "id": by_name["general"]["id"],
                "position": 5,
                "parent_id": by_name["Voice Channels"]["id"],
            }
        ],
    )
    assert moved.status_code == 204
    general = (
        await api.http.get(f"/api/v10/channels/{by_name['general']['id']}", headers=owner.auth)
    ).json()
    assert (general["position"], general["parent_id"]) == (5, by_name["Voice Channels"]["id"])
    not_a_category = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/channels",
        headers=owner.auth,
        json=[{"id": by_name["General"]["id"], "parent_id": by_name["general"]["id"]}],
    )
    assert field_errors(not_a_category) == {"parent_id": ["CHANNEL_PARENT_INVALID"]}
    bad_item = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth, json=[{"id": "x"}]
    )
    assert bad_item.json()["errors"]["0"]["id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"
    channel_id = by_name["general"]["id"]
    await api.http.put(
        f"/api/v10/channels/{channel_id}/permissions/{guild['id']}",
        headers=owner.auth,
        json={"type": 0, "deny": "2048"},
    )
    removed = await api.http.delete(
        f"/api/v10/channels/{channel_id}/permissions/{guild['id']}", headers=owner.auth
    )
    assert removed.status_code == 204
    assert (await api.http.get(f"/api/v10/channels/{channel_id}", headers=owner.auth)).json()[
        "permission_overwrites"
    ] == []
    log = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/audit-logs", headers=owner.auth)
    ).json()
    assert [e["action_type"] for e in log["audit_log_entries"]][:2] == [
        15,
        13,
    ]  # overwrite deleted, created


async def test_guild_list_pages_backwards_and_audit_log_pages_both_ways(api: ApiClient) -> None:
    owner, other = await api.register(), await api.register()
    first, second = await new_guild(api, owner, "First"), await new_guild(api, owner, "Second")
    before_second = (
        await api.http.get(f"/api/v10/users/@me/guilds?before={second['id']}", headers=owner.auth)
    ).json()
    assert [g["name"] for g in before_second] == ["First"]
    await add_member(api, first["id"], other)
    for name in ("a", "b", "c"):
        await new_role(api, owner, first["id"], name=name)
    log = (
        await api.http.get(f"/api/v10/guilds/{first['id']}/audit-logs", headers=owner.auth)
    ).json()["audit_log_entries"]
    newest, middle, oldest = log
    older = (
        await api.http.get(
            f"/api/v10/guilds/{first['id']}/audit-logs?before={middle['id']}", headers=owner.auth
        )
    ).json()
    newer = (
        await api.http.get(
            f"/api/v10/guilds/{first['id']}/audit-logs?after={oldest['id']}", headers=owner.auth
        )
    ).json()
    by_other = (
        await api.http.get(
            f"/api/v10/guilds/{first['id']}/audit-logs?user_id={other.id}", headers=owner.auth
        )
    ).json()
    assert [e["id"] for e in older["audit_log_entries"]] == [oldest["id"]]
    assert [e["id"] for e in newer["audit_log_entries"]] == [middle["id"], newest["id"]]
    assert by_other["audit_log_entries"] == []

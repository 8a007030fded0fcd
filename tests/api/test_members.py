"""Members, bans and invites over real HTTP."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

import trio

from core.domain import tokens
from core.domain.permissions import Permission
from core.store import accounts as account_store
from tests.api.test_auth import field_errors
from tests.api.test_guilds import (
    MISSING_PERMISSIONS,
    add_member,
    new_guild,
    new_role,
    outbox_events,
)

if TYPE_CHECKING:
    from tests.running import ApiClient, Person

P = Permission


async def general_channel(api: ApiClient, owner: Person, guild_id: object) -> dict[str, object]:
    channels = (
        await api.http.get(f"/api/v10/guilds/{guild_id}/channels", headers=owner.auth)
    ).json()
    found: dict[str, object] = next(c for c in channels if c["name"] == "general")
    return found


async def invite(api: ApiClient, owner: Person, guild_id: object, **settings: object) -> str:
    channel = await general_channel(api, owner, guild_id)
    response = await api.http.post(
        f"/api/v10/channels/{channel['id']}/invites", headers=owner.auth, json=settings
    )
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


async def test_invites_join_people_and_count_their_uses(api: ApiClient) -> None:
    owner, guest = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    code = await invite(api, owner, guild["id"], max_uses=5, max_age=3600)
    public = await api.http.get(
        f"/api/v10/invites/{code}?with_counts=true"
    )  # no credentials needed
    assert public.status_code == 200
    assert public.json()["guild"]["name"] == "Test Guild"
    assert public.json()["approximate_member_count"] == 1
    assert "uses" not in public.json()
    joined = await api.http.post(f"/api/v10/invites/{code}", headers=guest.auth)
    assert joined.status_code == 200
    again = await api.http.post(f"/api/v10/invites/{code}", headers=guest.auth)  # already a member
    assert again.status_code == 200
    listed = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/invites", headers=owner.auth)
    ).json()
    assert [(i["code"], i["uses"], i["max_uses"]) for i in listed] == [(code, 1, 5)]
    member = await api.http.get(
        f"/api/v10/guilds/{guild['id']}/members/{guest.id}", headers=owner.auth
    )
    assert member.json()["user"]["id"] == str(guest.id)
    assert member.json()["roles"] == []
    assert member.json()["joined_at"].endswith("+00:00")
    events = await outbox_events(api, guild["id"])
    assert events[-2:] == ["GUILD_MEMBER_ADD", "GUILD_CREATE"]


async def mint_person(api: ApiClient) -> dict[str, str]:
    """A person with a valid access token, written straight to the store: registering a hundred
    through Argon2 would only make the test slow."""
    user_id = api.services.snowflakes.next_id()
    name = f"crowd_{secrets.token_hex(5)}"
    await api.services.db.run(
        lambda c: account_store.insert_user(
            c,
            user_id=user_id,
            username=name,
            email=f"{name}@example.test",
            password_hash=None,
            global_name=None,
        )
    )
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = tokens.AccessClaims(
        user_id, api.services.snowflakes.next_id(), now, now + 900, "crowd"
    )
    return {
        "Authorization": f"Bearer {tokens.issue_access_token(api.services.accounts.keys, claims)}"
    }


async def test_a_ten_use_invite_admits_exactly_ten_of_a_hundred_at_once(api: ApiClient) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner)
    code = await invite(api, owner, guild["id"], max_uses=10)
    crowd = [await mint_person(api) for _ in range(100)]
    statuses: list[int] = []

    async def accept(auth: dict[str, str]) -> None:
        response = await api.http.post(f"/api/v10/invites/{code}", headers=auth)
        statuses.append(response.status_code)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for auth in crowd:
                nursery.start_soon(accept, auth)
    assert sorted(statuses) == [200] * 10 + [404] * 90
    counted = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}?with_counts=true", headers=owner.auth)
    ).json()
    assert counted["approximate_member_count"] == 11
    assert (await api.http.get(f"/api/v10/invites/{code}")).json() == {
        "code": 10006,
        "message": "Unknown Invite",
    }


async def test_expired_and_revoked_invites_are_unknown(api: ApiClient) -> None:
    owner, guest = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    code = await invite(api, owner, guild["id"])
    await api.services.db.run(
        lambda c: c.execute(
            "UPDATE invites SET expires_at = now() - interval '1 second' WHERE code = %s", (code,)
        )
    )
    assert (await api.http.post(f"/api/v10/invites/{code}", headers=guest.auth)).json()[
        "code"
    ] == 10006
    other = await invite(api, owner, guild["id"])
    assert (
        await api.http.delete(f"/api/v10/invites/{other}", headers=owner.auth)
    ).status_code == 200
    assert (await api.http.post(f"/api/v10/invites/{other}", headers=guest.auth)).json()[
        "code"
    ] == 10006
    assert (await api.http.get("/api/v10/invites/not-a-code!")).json()["code"] == 10006


async def test_banned_users_cannot_rejoin_through_any_invite(api: ApiClient) -> None:
    owner, troll = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await api.http.post(
        f"/api/v10/invites/{await invite(api, owner, guild['id'])}", headers=troll.auth
    )
    ban = await api.http.put(
        f"/api/v10/guilds/{guild['id']}/bans/{troll.id}",
        headers={**owner.auth, "X-Audit-Log-Reason": "spam"},
        json={"delete_message_seconds": 3600},
    )
    assert ban.status_code == 204
    assert (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/members/{troll.id}", headers=owner.auth)
    ).json()["code"] == 10007
    fresh = await invite(api, owner, guild["id"])
    refused = await api.http.post(f"/api/v10/invites/{fresh}", headers=troll.auth)
    assert refused.status_code == 403
    assert refused.json() == {"code": 40007, "message": "The user is banned from this guild."}
    listed = (await api.http.get(f"/api/v10/guilds/{guild['id']}/bans", headers=owner.auth)).json()
    assert [(b["user"]["id"], b["reason"]) for b in listed] == [(str(troll.id), "spam")]
    assert (
        await api.http.delete(f"/api/v10/guilds/{guild['id']}/bans/{troll.id}", headers=owner.auth)
    ).status_code == 204
    assert (await api.http.post(f"/api/v10/invites/{fresh}", headers=troll.auth)).status_code == 200
    missing = await api.http.get(
        f"/api/v10/guilds/{guild['id']}/bans/{troll.id}", headers=owner.auth
    )
    assert missing.json() == {"code": 10026, "message": "Unknown Ban"}
    events = await outbox_events(api, guild["id"])
    assert {"GUILD_BAN_ADD", "GUILD_BAN_REMOVE", "GUILD_MEMBER_REMOVE"} <= set(events)


async def test_bulk_ban_reports_who_was_and_was_not_banned(api: ApiClient) -> None:
    owner, first, second = await api.register(), await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], first)
    response = await api.http.post(
        f"/api/v10/guilds/{guild['id']}/bulk-ban",
        headers=owner.auth,
        json={"user_ids": [str(first.id), str(second.id), str(owner.id), "1"]},
    )
    assert response.status_code == 200
    assert response.json() == {
        "banned_users": [str(first.id), str(second.id)],
        "failed_users": [str(owner.id), "1"],
    }
    too_many = await api.http.post(
        f"/api/v10/guilds/{guild['id']}/bulk-ban",
        headers=owner.auth,
        json={"user_ids": [str(i) for i in range(201)]},
    )
    assert field_errors(too_many) == {"user_ids": ["BASE_TYPE_BAD_LENGTH"]}


async def test_member_edits_follow_permissions_and_the_hierarchy(api: ApiClient) -> None:
    owner, moderator, member = await api.register(), await api.register(), await api.register()
    guild = await new_guild(api, owner)
    low = await new_role(api, owner, guild["id"], name="low")
    mods = await new_role(
        api,
        owner,
        guild["id"],
        name="mods",
        permissions=str(
            int(P.MANAGE_ROLES | P.MANAGE_NICKNAMES | P.MODERATE_MEMBERS | P.KICK_MEMBERS)
        ),
    )
    # Order: @everyone 0 < low 1 < mods 2.
    await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/roles",
        headers=owner.auth,
        json=[{"id": low["id"], "position": 1}, {"id": mods["id"], "position": 2}],
    )
    await add_member(api, guild["id"], moderator, (int(str(mods["id"])),))
    await add_member(api, guild["id"], member)
    base = f"/api/v10/guilds/{guild['id']}/members"

    nick = await api.http.patch(
        f"{base}/{member.id}", headers=moderator.auth, json={"nick": "Newbie"}
    )
    assert nick.json()["nick"] == "Newbie"
    give = await api.http.put(f"{base}/{member.id}/roles/{low['id']}", headers=moderator.auth)
    assert give.status_code == 204
    up = await api.http.put(f"{base}/{member.id}/roles/{mods['id']}", headers=moderator.auth)
    assert up.json() == MISSING_PERMISSIONS  # not their own rank, nor above
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    timeout = await api.http.patch(
        f"{base}/{member.id}", headers=moderator.auth, json={"communication_disabled_until": until}
    )
    assert timeout.json()["communication_disabled_until"] is not None
    timed_out_nick = await api.http.patch(
        f"{base}/@me", headers=member.auth, json={"nick": "Quiet"}
    )
    assert timed_out_nick.json() == MISSING_PERMISSIONS  # timed out: only viewing and history
    too_long = await api.http.patch(
        f"{base}/{member.id}",
        headers=moderator.auth,
        json={
            "communication_disabled_until": (
                dt.datetime.now(dt.UTC) + dt.timedelta(days=29)
            ).isoformat()
        },
    )
    assert field_errors(too_long) == {"communication_disabled_until": ["TIMEOUT_TOO_LONG"]}
    on_owner = await api.http.patch(
        f"{base}/{owner.id}", headers=moderator.auth, json={"nick": "boss"}
    )
    kick_owner = await api.http.delete(f"{base}/{owner.id}", headers=moderator.auth)
    assert on_owner.json() == kick_owner.json() == MISSING_PERMISSIONS
    roles = (await api.http.get(f"{base}/{member.id}", headers=owner.auth)).json()["roles"]
    assert roles == [str(low["id"])]
    kicked = await api.http.delete(f"{base}/{member.id}", headers=moderator.auth)
    assert kicked.status_code == 204
    assert (await api.http.get(f"{base}/{member.id}", headers=owner.auth)).json()["code"] == 10007
    log = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/audit-logs", headers=owner.auth)
    ).json()
    actions = [e["action_type"] for e in log["audit_log_entries"]]
    assert {20, 24, 25} <= set(actions)  # kick, member update, member role update


async def test_members_list_and_search(api: ApiClient) -> None:
    owner, alice, bob = (
        await api.register("owner_ls"),
        await api.register("alice_ls"),
        await api.register("bob_ls"),
    )
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], alice)
    await add_member(api, guild["id"], bob)
    base = f"/api/v10/guilds/{guild['id']}/members"
    listed = (await api.http.get(f"{base}?limit=1000", headers=owner.auth)).json()
    assert sorted(m["user"]["username"] for m in listed) == ["alice_ls", "bob_ls", "owner_ls"]
    first = (await api.http.get(base, headers=owner.auth)).json()
    assert len(first) == 1  # Discord's default limit is 1
    paged = (
        await api.http.get(f"{base}?limit=1000&after={first[0]['user']['id']}", headers=owner.auth)
    ).json()
    assert len(paged) == 2
    found = (await api.http.get(f"{base}/search?query=ALI&limit=10", headers=owner.auth)).json()
    assert [m["user"]["username"] for m in found] == ["alice_ls"]
    wildcard = (await api.http.get(f"{base}/search?query=%25&limit=10", headers=owner.auth)).json()
    assert wildcard == []  # LIKE wildcards in the query are matched literally
    assert field_errors(await api.http.get(f"{base}?limit=1001", headers=owner.auth)) == {
        "limit": ["NUMBER_TYPE_MAX"]
    }


async def test_bots_are_added_by_members_with_manage_guild_and_people_are_not(
    api: ApiClient,
) -> None:
    owner, person = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    bot = (
        await api.http.post("/api/v10/applications", headers=owner.auth, json={"name": "Helper"})
    ).json()
    added = await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{bot['id']}", headers=owner.auth, json={}
    )
    assert added.status_code == 201
    assert added.json()["user"]["bot"] is True
    again = await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{bot['id']}", headers=owner.auth, json={}
    )
    assert again.status_code == 204
    refused = await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{person.id}", headers=owner.auth, json={}
    )
    assert field_errors(refused) == {"user_id": ["USER_NOT_BOT"]}
    # Fields Discord defines that would not be applied are refused rather than dropped.
    with_nick = await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{bot['id']}", headers=owner.auth, json={"nick": "x"}
    )
    assert field_errors(with_nick) == {"nick": ["UNSUPPORTED"]}


async def test_roles_come_off_mute_and_deafen_need_their_permissions(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    role = await new_role(api, owner, guild["id"], name="temp")
    await add_member(api, guild["id"], member, (int(str(role["id"])),))
    base = f"/api/v10/guilds/{guild['id']}/members"
    assert (
        await api.http.delete(f"{base}/{member.id}/roles/{role['id']}", headers=owner.auth)
    ).status_code == 204
    assert (await api.http.get(f"{base}/{member.id}", headers=owner.auth)).json()["roles"] == []
    silenced = await api.http.patch(
        f"{base}/{member.id}", headers=owner.auth, json={"mute": True, "deaf": True}
    )
    assert (silenced.json()["mute"], silenced.json()["deaf"]) == (True, True)
    by_member = await api.http.patch(f"{base}/{owner.id}", headers=member.auth, json={"mute": True})
    assert by_member.json() == MISSING_PERMISSIONS
    unknown = await api.http.put(f"{base}/{member.id}/roles/1234", headers=owner.auth)
    assert unknown.json() == {"code": 10011, "message": "Unknown Role"}


async def test_channel_invites_are_listed_for_those_who_manage_the_channel(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], member)
    code = await invite(api, owner, guild["id"], max_age=0, temporary=True)
    channel = await general_channel(api, owner, guild["id"])
    listed = (
        await api.http.get(f"/api/v10/channels/{channel['id']}/invites", headers=owner.auth)
    ).json()
    assert [(i["code"], i["max_age"], i["temporary"], i["expires_at"]) for i in listed] == [
        (code, 0, True, None)
    ]
    refused = await api.http.get(f"/api/v10/channels/{channel['id']}/invites", headers=member.auth)
    assert refused.json() == MISSING_PERMISSIONS
    bad = await api.http.post(
        f"/api/v10/channels/{channel['id']}/invites", headers=owner.auth, json={"max_uses": 101}
    )
    assert field_errors(bad) == {"max_uses": ["NUMBER_TYPE_MAX"]}


async def test_moving_a_member_who_is_not_in_voice_is_40032(api: ApiClient) -> None:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], member)
    voice = next(
        c
        for c in (
            await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
        ).json()
        if c["type"] == 2
    )
    response = await api.http.patch(
        f"/api/v10/guilds/{guild['id']}/members/{member.id}",
        headers=owner.auth,
        json={"channel_id": voice["id"]},
    )
    assert (response.status_code, response.json()["code"]) == (400, 40032)

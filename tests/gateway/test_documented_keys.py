"""READY and GUILD_CREATE carry every key Discord documents for them (issue 19): JDA, serenity
and Discord.Net refuse to build a guild that lacks one, even a list of a feature that does not
exist here yet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.domain.permissions import Permission
from tests.api.rooms import new_room
from tests.api.test_applications import create, reset
from tests.api.test_members import invite
from tests.gateway.client import connect

if TYPE_CHECKING:
    from tests.running import ApiClient

# Gateway Events, Ready: "Ready Event Fields" (`shard` only when the client asked for one,
# `application` for bots, which the bot test below checks).
READY_KEYS = {"v", "user", "guilds", "session_id", "resume_gateway_url"}

# Guild Resource, "Guild Object > Guild Structure": every key the docs mark as always present,
# and the optional ones a guild-create from Discord carries.
GUILD_KEYS = {
    "id",
    "name",
    "icon",
    "icon_hash",
    "splash",
    "discovery_splash",
    "owner_id",
    "afk_channel_id",
    "afk_timeout",
    "widget_enabled",
    "widget_channel_id",
    "verification_level",
    "default_message_notifications",
    "explicit_content_filter",
    "roles",
    "emojis",
    "features",
    "mfa_level",
    "application_id",
    "system_channel_id",
    "system_channel_flags",
    "rules_channel_id",
    "max_presences",
    "max_members",
    "vanity_url_code",
    "description",
    "banner",
    "premium_tier",
    "premium_subscription_count",
    "preferred_locale",
    "public_updates_channel_id",
    "max_video_channel_users",
    "max_stage_video_channel_users",
    "nsfw_level",
    "stickers",
    "premium_progress_bar_enabled",
    "safety_alerts_channel_id",
    "incidents_data",
}

# Gateway Events, Guild Create: "Guild Create Extra Fields".
GUILD_CREATE_EXTRA_KEYS = {
    "joined_at",
    "large",
    "unavailable",
    "member_count",
    "voice_states",
    "members",
    "channels",
    "threads",
    "presences",
    "stage_instances",
    "guild_scheduled_events",
    "soundboard_sounds",
}

# Features that do not exist here yet: present, and empty.
EMPTY_UNTIL_THEY_EXIST = (
    "emojis",
    "stickers",
    "voice_states",
    "threads",
    "stage_instances",
    "guild_scheduled_events",
    "soundboard_sounds",
)


def check_guild_create(guild: dict[str, Any], user_id: int, member_count: int) -> None:
    assert guild.keys() >= GUILD_KEYS | GUILD_CREATE_EXTRA_KEYS, (
        GUILD_KEYS | GUILD_CREATE_EXTRA_KEYS
    ) - guild.keys()
    for key in EMPTY_UNTIL_THEY_EXIST:
        assert guild[key] == [], key
    assert guild["unavailable"] is False
    assert guild["member_count"] == member_count
    own = [m for m in guild["members"] if m["user"]["id"] == str(user_id)]
    assert len(own) == 1
    assert guild["joined_at"] == own[0]["joined_at"]
    assert guild["large"] is (member_count > len(guild["members"]))
    assert guild["channels"]  # the guild's text channel and its categories


async def test_ready_and_guild_create_carry_every_documented_key(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    async with connect(gateway) as client:
        ready = await client.identify(room.member.token)
        assert ready.keys() >= READY_KEYS, READY_KEYS - ready.keys()
        assert ready["guilds"] == [{"id": room.guild_id, "unavailable": True}]
        guild = await client.dispatch("GUILD_CREATE")
        check_guild_create(guild, room.member.id, member_count=2)
        assert {m["user"]["id"] for m in guild["members"]} == {
            str(room.owner.id),
            str(room.member.id),
        }


async def test_a_guild_joined_later_arrives_as_a_complete_guild_create(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    application = await create(api, room.owner, "Latecomer")
    token = await reset(api, room.owner, application["id"])
    async with connect(gateway) as bot:
        ready = await bot.identify(token)
        assert READY_KEYS | {"application"} <= ready.keys()
        assert ready["guilds"] == []
        added = await api.http.put(
            f"/api/v10/guilds/{room.guild_id}/members/{application['id']}",
            headers=room.owner.auth,
            json={},
        )
        assert added.status_code == 201, added.text
        guild = await bot.next_named("GUILD_CREATE")
        assert guild["id"] == room.guild_id
        check_guild_create(guild, int(str(application["id"])), member_count=3)
        assert len(guild["members"]) == 3  # a small guild: everyone, as at the session's start


async def test_a_new_guild_arrives_with_its_owner_as_its_only_member(
    api: ApiClient, gateway: str
) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        await client.identify(person.token)
        made = await api.http.post("/api/v10/guilds", headers=person.auth, json={"name": "Mine"})
        assert made.status_code == 201
        guild = await client.next_named("GUILD_CREATE")
        assert guild["id"] == made.json()["id"]
        check_guild_create(guild, person.id, member_count=1)


async def test_joining_by_invite_shows_only_the_channels_the_newcomer_may_see(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    secret = await api.http.post(
        f"/api/v10/guilds/{room.guild_id}/channels",
        headers=room.owner.auth,
        json={
            "name": "staff-only",
            "permission_overwrites": [
                {"id": room.guild_id, "type": 0, "deny": str(int(Permission.VIEW_CHANNEL))}
            ],
        },
    )
    assert secret.status_code == 201, secret.text
    code = await invite(api, room.owner, room.guild_id)
    guest = await api.register()
    async with connect(gateway) as client:
        await client.identify(guest.token)
        joined = await api.http.post(f"/api/v10/invites/{code}", headers=guest.auth)
        assert joined.status_code == 200, joined.text
        guild = await client.next_named("GUILD_CREATE")
        check_guild_create(guild, guest.id, member_count=3)
        names = {channel["name"] for channel in guild["channels"]}
        assert "general" in names
        assert "staff-only" not in names  # as a session started later would see it

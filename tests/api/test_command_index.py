"""A guild's application-command index: what a person's client may offer them there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.api.commanding import bot_in_guild, chat, new_bot, synced
from tests.api.test_guilds import UNKNOWN_GUILD, add_member, new_role
from tests.api.test_members import general_channel

if TYPE_CHECKING:
    from tests.running import ApiClient, Person


async def index(api: ApiClient, person: Person, guild_id: str) -> dict[str, Any]:
    response = await api.http.get(
        f"/api/v10/guilds/{guild_id}/application-command-index", headers=person.auth
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def names(found: dict[str, Any]) -> list[str]:
    return sorted(command["name"] for command in found["application_commands"])


async def test_index_holds_what_each_member_may_use(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    owner = bot.owner
    await synced(
        api,
        bot,
        [
            chat("open"),
            chat("mod", default_member_permissions="0"),
            chat("dms", contexts=[1]),  # not offered in guilds
        ],
    )
    await synced(api, bot, [chat("manage", default_member_permissions="32")], guild_id)
    outsider = await new_bot(api)  # its bot is not in the guild
    await synced(api, outsider, [chat("hidden")])

    plain, manager, admin = await api.register(), await api.register(), await api.register()
    manage_role = await new_role(api, owner, guild_id, permissions="32")
    admin_role = await new_role(api, owner, guild_id, permissions="8")
    await add_member(api, guild_id, plain)
    await add_member(api, guild_id, manager, (int(str(manage_role["id"])),))
    await add_member(api, guild_id, admin, (int(str(admin_role["id"])),))

    assert names(await index(api, plain, guild_id)) == ["open"]
    assert names(await index(api, manager, guild_id)) == ["manage", "open"]
    assert names(await index(api, admin, guild_id)) == ["manage", "mod", "open"]
    full = await index(api, owner, guild_id)
    assert names(full) == ["manage", "mod", "open"]
    assert [application["id"] for application in full["applications"]] == [str(bot.id)]
    assert full["applications"][0]["bot_id"] == str(bot.id)
    assert int(full["version"]) == max(int(c["version"]) for c in full["application_commands"])
    manage = next(c for c in full["application_commands"] if c["name"] == "manage")
    assert manage["guild_id"] == guild_id
    assert manage["default_member_permissions"] == "32"


async def test_index_of_a_guild_without_commands_is_empty(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    assert await index(api, bot.owner, guild_id) == {
        "applications": [],
        "application_commands": [],
        "version": "0",
    }


async def test_index_of_a_guild_one_is_not_in_is_unknown(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    await synced(api, bot, [chat("open")])
    stranger = await api.register()
    for guild in (guild_id, "1", "abc"):
        response = await api.http.get(
            f"/api/v10/guilds/{guild}/application-command-index", headers=stranger.auth
        )
        assert (response.status_code, response.json()) == (404, UNKNOWN_GUILD)


async def channel_index(api: ApiClient, person: Person, channel_id: object) -> dict[str, Any]:
    response = await api.http.get(
        f"/api/v10/channels/{channel_id}/application-command-index", headers=person.auth
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_dm_with_a_bot_offers_its_global_commands_allowed_in_dms(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    await synced(
        api,
        bot,
        [
            chat("both", contexts=[0, 1]),
            chat("guildonly", contexts=[0]),
            chat("legacy", dm_permission=False),
            chat("default"),
            chat("admins", default_member_permissions="0"),  # not a guild rule: offered in DMs
        ],
    )
    await synced(api, bot, [chat("here")], guild_id)
    person = await api.register()
    await add_member(api, guild_id, person)
    dm = await api.http.post(
        "/api/v10/users/@me/channels", headers=person.auth, json={"recipient_id": str(bot.id)}
    )
    assert dm.status_code == 200, dm.text
    found = await channel_index(api, person, dm.json()["id"])
    assert names(found) == ["admins", "both", "default"]
    assert [application["id"] for application in found["applications"]] == [str(bot.id)]

    stranger = await api.register()
    response = await api.http.get(
        f"/api/v10/channels/{dm.json()['id']}/application-command-index", headers=stranger.auth
    )
    assert (response.status_code, response.json()["code"]) == (404, 10003)


async def test_guild_channel_index_is_the_guilds_for_those_who_see_it(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    await synced(api, bot, [chat("open"), chat("mod", default_member_permissions="0")])
    person = await api.register()
    await add_member(api, guild_id, person)
    channel = await general_channel(api, bot.owner, guild_id)
    assert names(await channel_index(api, person, channel["id"])) == ["open"]
    assert names(await channel_index(api, bot.owner, channel["id"])) == ["mod", "open"]
    hidden = await api.http.put(
        f"/api/v10/channels/{channel['id']}/permissions/{guild_id}",
        headers=bot.owner.auth,
        json={"type": 0, "deny": str(1 << 10)},
    )
    assert hidden.status_code == 204, hidden.text
    response = await api.http.get(
        f"/api/v10/channels/{channel['id']}/application-command-index", headers=person.auth
    )
    assert (response.status_code, response.json()["code"]) == (403, 50001)


async def test_a_channel_index_follows_the_channels_permissions(api: ApiClient) -> None:
    """The channel's own permissions decide, as invoking there would: a channel that denies
    USE_APPLICATION_COMMANDS offers nothing; one that grants a command's permission offers it."""
    bot, guild_id = await bot_in_guild(api)
    await synced(api, bot, [chat("open"), chat("manage", default_member_permissions="8192")])
    person = await api.register()
    await add_member(api, guild_id, person)
    channel = await general_channel(api, bot.owner, guild_id)

    async def overwrite(allow: int, deny: int) -> None:
        response = await api.http.put(
            f"/api/v10/channels/{channel['id']}/permissions/{person.id}",
            headers=bot.owner.auth,
            json={"type": 1, "allow": str(allow), "deny": str(deny)},
        )
        assert response.status_code == 204, response.text

    await overwrite(allow=8192, deny=0)  # MANAGE_MESSAGES, in this channel
    assert names(await channel_index(api, person, channel["id"])) == ["manage", "open"]
    await overwrite(allow=0, deny=1 << 31)  # USE_APPLICATION_COMMANDS
    assert names(await channel_index(api, person, channel["id"])) == []
    assert names(await index(api, person, guild_id)) == ["open"]  # the guild's own: allowed

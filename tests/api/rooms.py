"""A guild with an owner, a member and its general channel: where message tests happen."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from tests.api.test_guilds import add_member, new_guild
from tests.api.test_members import general_channel

if TYPE_CHECKING:
    from tests.running import ApiClient, Person


@dataclasses.dataclass
class Room:
    owner: Person
    member: Person
    guild_id: str
    channel_id: str

    def url(self, path: str = "") -> str:
        return f"/api/v10/channels/{self.channel_id}/messages{path}"


async def new_room(api: ApiClient) -> Room:
    owner, member = await api.register(), await api.register()
    guild = await new_guild(api, owner)
    await add_member(api, guild["id"], member)
    channel = await general_channel(api, owner, guild["id"])
    return Room(owner, member, str(guild["id"]), str(channel["id"]))


async def send(api: ApiClient, who: Person, room: Room, **body: object) -> dict[str, Any]:
    response = await api.http.post(room.url(), headers=who.auth, json=body)
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    return message


async def count_messages(api: ApiClient, room: Room) -> int:
    return await api.count(f"messages WHERE channel_id = {int(room.channel_id)}")


async def grant(api: ApiClient, room: Room, user_id: str, permissions: int) -> None:
    """A role with `permissions`, given to `user_id` in the room's guild."""
    guild = f"/api/v10/guilds/{room.guild_id}"
    role = await api.http.post(
        f"{guild}/roles", headers=room.owner.auth, json={"permissions": str(permissions)}
    )
    assert role.status_code == 200, role.text
    given = await api.http.put(
        f"{guild}/members/{user_id}/roles/{role.json()['id']}", headers=room.owner.auth
    )
    assert given.status_code == 204, given.text

"""Voice in the room's guild through the REST API, as its owner (a moderator) would use it:
voice channels, and moderating members in them (PATCH /guilds/{g}/members/{u})."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.running import ApiClient

GUILD_VOICE = 2


async def voice_channel(api: ApiClient, room: Room) -> str:
    """The voice channel every new guild has ("General")."""
    response = await api.http.get(
        f"/api/v10/guilds/{room.guild_id}/channels", headers=room.owner.auth
    )
    assert response.status_code == 200, response.text
    return str(next(c["id"] for c in response.json() if c["type"] == GUILD_VOICE))


async def new_voice_channel(api: ApiClient, room: Room, name: str) -> str:
    response = await api.http.post(
        f"/api/v10/guilds/{room.guild_id}/channels",
        headers=room.owner.auth,
        json={"name": name, "type": GUILD_VOICE},
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def moderate(api: ApiClient, room: Room, user_id: str, **changes: Any) -> dict[str, Any]:
    """Server mute/deafen (`mute`, `deaf`), move (`channel_id`) or disconnect (`channel_id`
    None) a member; the member as answered."""
    response = await api.http.patch(
        f"/api/v10/guilds/{room.guild_id}/members/{user_id}",
        headers=room.owner.auth,
        json=changes,
    )
    assert response.status_code in (200, 204), response.text
    member: dict[str, Any] = response.json() if response.status_code == 200 else {}
    return member


async def voice_state(api: ApiClient, room: Room, user_id: str) -> dict[str, Any] | None:
    """The member's voice state (GET /guilds/{g}/voice-states/{u}); None when not in voice."""
    response = await api.http.get(
        f"/api/v10/guilds/{room.guild_id}/voice-states/{user_id}", headers=room.owner.auth
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state

"""Who sees which webhooks: the guild's list shows only those of the channels where the
caller may manage webhooks, as each webhook by id does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain.permissions import Permission
from tests.api.test_guilds import new_role
from tests.api.test_webhooks import UNKNOWN_WEBHOOK, new_webhook

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.running import ApiClient


async def test_the_guild_list_hides_webhooks_of_channels_the_caller_cannot_manage(
    api: ApiClient, room: Room
) -> None:
    # Review of issue 19: the guild's list showed every webhook, tokens included, to anyone
    # with MANAGE_WEBHOOKS guild-wide, even in channels they cannot see.
    role = await new_role(
        api, room.owner, room.guild_id, permissions=str(int(Permission.MANAGE_WEBHOOKS))
    )
    await api.http.put(
        f"/api/v10/guilds/{room.guild_id}/members/{room.member.id}/roles/{role['id']}",
        headers=room.owner.auth,
    )
    visible = await new_webhook(api, room, "Visible")
    hidden_channels = []
    for deny in (Permission.VIEW_CHANNEL, Permission.MANAGE_WEBHOOKS):
        created = await api.http.post(
            f"/api/v10/guilds/{room.guild_id}/channels",
            headers=room.owner.auth,
            json={
                "name": "closed",
                "permission_overwrites": [
                    {"id": str(room.member.id), "type": 1, "deny": str(int(deny))}
                ],
            },
        )
        assert created.status_code in (200, 201), created.text
        hidden_channels.append(created.json()["id"])
    hidden = []
    for channel_id in hidden_channels:
        response = await api.http.post(
            f"/api/v10/channels/{channel_id}/webhooks",
            headers=room.owner.auth,
            json={"name": "Hidden"},
        )
        hidden.append(response.json())
    listed = await api.http.get(
        f"/api/v10/guilds/{room.guild_id}/webhooks", headers=room.member.auth
    )
    assert listed.status_code == 200, listed.text
    assert [w["id"] for w in listed.json()] == [visible["id"]]
    for webhook in hidden:
        by_id = await api.http.get(f"/api/v10/webhooks/{webhook['id']}", headers=room.member.auth)
        assert by_id.status_code in (403, 404)
        if by_id.status_code == 404:
            assert by_id.json() == UNKNOWN_WEBHOOK
    # The owner still sees all three.
    everything = await api.http.get(
        f"/api/v10/guilds/{room.guild_id}/webhooks", headers=room.owner.auth
    )
    assert len(everything.json()) == 3

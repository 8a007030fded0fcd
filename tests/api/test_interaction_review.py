"""What an interaction names is checked against the invoker, whoever its options name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain.permissions import Permission
from tests.api.stage import add_command, interact, invocation, invoke, new_stage, sessions

if TYPE_CHECKING:
    from tests.running import ApiClient


async def test_channel_options_are_checked_against_the_invoker(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    room = stage.room
    private = await api.http.post(
        f"/api/v10/guilds/{room.guild_id}/channels",
        headers=room.owner.auth,
        json={
            "name": "staff",
            "permission_overwrites": [
                {"id": room.guild_id, "type": 0, "deny": str(int(Permission.VIEW_CHANNEL))}
            ],
        },
    )
    assert private.status_code == 201, private.text
    command = await add_command(
        api,
        stage,
        "look",
        options=[
            {"type": 6, "name": "who", "description": "someone"},
            {"type": 7, "name": "where", "description": "somewhere"},
        ],
    )
    owner = str(room.owner.id)
    # The owner sees the private channel; naming them must not lend the member their sight.
    peek = invocation(
        stage,
        command,
        options=[
            {"type": 6, "name": "who", "value": owner},
            {"type": 7, "name": "where", "value": private.json()["id"]},
        ],
    )
    refused = await interact(api, room.member, peek)
    assert (refused.status_code, refused.json()["code"]) == (400, 50035), refused.text
    outsider = await api.register()
    async with sessions(api, gateway, stage) as live:
        # Someone outside the guild resolves as a user without a member, as on Discord.
        named = invocation(
            stage,
            command,
            options=[
                {"type": 6, "name": "who", "value": str(outsider.id)},
                {"type": 7, "name": "where", "value": room.channel_id},
            ],
        )
        got = await invoke(api, stage, live, named)
        resolved = got["data"]["resolved"]
        assert str(outsider.id) in resolved["users"]
        assert str(outsider.id) not in resolved.get("members", {})
        assert room.channel_id in resolved["channels"]

"""USER_UPDATE after PATCH /users/@me reaches the user's own sessions and nobody else's
(Gateway Events, User Update; issue 19)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.rooms import new_room, send
from tests.gateway.client import connect

if TYPE_CHECKING:
    from tests.running import ApiClient


async def test_a_profile_edit_reaches_every_session_of_its_user_only(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    async with (
        connect(gateway) as first,
        connect(gateway) as second,
        connect(gateway) as other,
    ):
        for client, who in ((first, room.member), (second, room.member), (other, room.owner)):
            await client.identify(who.token)
            await client.dispatch("GUILD_CREATE")
        edited = await api.http.patch(
            "/api/v10/users/@me", headers=room.member.auth, json={"global_name": "Renamed"}
        )
        assert edited.status_code == 200, edited.text
        for client in (first, second):
            update = await client.next_named("USER_UPDATE")
            assert update == edited.json()  # the private user object, as the API answered
            assert update["global_name"] == "Renamed"
        # The other member hears the message sent next, and never the profile edit. (Events
        # of the room's making may still reach the owner first: the relay is not instant.)
        marker = await send(api, room.member, room, content="after")
        heard: list[str] = []
        while True:
            payload = await other.receive()
            heard.append(payload["t"])
            if payload["t"] == "MESSAGE_CREATE" and payload["d"]["id"] == marker["id"]:
                break
        assert "USER_UPDATE" not in heard


async def test_an_edit_that_changes_nothing_or_is_refused_sends_nothing(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    async with connect(gateway) as client:
        await client.identify(room.member.token)
        await client.dispatch("GUILD_CREATE")
        refused = await api.http.patch(
            "/api/v10/users/@me", headers=room.member.auth, json={"bio": "b" * 191}
        )
        assert refused.status_code == 400
        nothing = await api.http.patch("/api/v10/users/@me", headers=room.member.auth, json={})
        assert nothing.status_code == 200
        marker = await send(api, room.member, room, content="after")
        payload = await client.receive()
        assert (payload["t"], payload["d"]["id"]) == ("MESSAGE_CREATE", marker["id"])

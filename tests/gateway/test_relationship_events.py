"""RELATIONSHIP_ADD / RELATIONSHIP_REMOVE reach each person whose view of the other changed, so
a client's friends list stays live; friend requests by username (POST /users/@me/relationships)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.rooms import new_room
from tests.gateway.client import connect

if TYPE_CHECKING:
    from tests.running import ApiClient

RELATIONSHIPS = "/api/v10/users/@me/relationships"


async def test_a_request_by_username_accepted_then_a_block_is_told_to_both(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    alice, bob = room.owner, room.member
    async with connect(gateway) as alices, connect(gateway) as bobs:
        for client, who in ((alices, alice), (bobs, bob)):
            await client.identify(who.token)
            await client.dispatch("GUILD_CREATE")
        asked = await api.http.post(
            RELATIONSHIPS, headers=alice.auth, json={"username": bob.username.upper()}
        )
        assert asked.status_code == 204, asked.text
        outgoing = await alices.next_named("RELATIONSHIP_ADD")
        incoming = await bobs.next_named("RELATIONSHIP_ADD")
        assert (outgoing["id"], outgoing["type"], outgoing["user"]["id"]) == (
            str(bob.id),
            4,
            str(bob.id),
        )
        assert (incoming["id"], incoming["type"]) == (str(alice.id), 3)

        accepted = await api.http.put(f"{RELATIONSHIPS}/{alice.id}", headers=bob.auth, json={})
        assert accepted.status_code == 204
        for client, other in ((alices, bob), (bobs, alice)):
            friend = await client.next_named("RELATIONSHIP_ADD")
            assert (friend["id"], friend["type"]) == (str(other.id), 1)

        blocked = await api.http.put(
            f"{RELATIONSHIPS}/{bob.id}", headers=alice.auth, json={"type": 2}
        )
        assert blocked.status_code == 204
        block = await alices.next_named("RELATIONSHIP_ADD")
        assert (block["id"], block["type"]) == (str(bob.id), 2)
        assert await bobs.next_named("RELATIONSHIP_REMOVE") == {"id": str(alice.id), "type": 1}

        unblocked = await api.http.delete(f"{RELATIONSHIPS}/{bob.id}", headers=alice.auth)
        assert unblocked.status_code == 204
        assert await alices.next_named("RELATIONSHIP_REMOVE") == {"id": str(bob.id), "type": 2}


async def test_an_unknown_username_is_a_form_error_and_changes_nothing(api: ApiClient) -> None:
    alice = await api.register()
    refused = await api.http.post(
        RELATIONSHIPS, headers=alice.auth, json={"username": "nobody_has_this_name"}
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == 50035
    assert "username" in refused.json()["errors"]
    assert await api.count(f"relationships WHERE user_id = {alice.id}") == 0

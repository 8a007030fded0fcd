"""DMs, group DMs and relationships over real HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.test_auth import field_errors
from tests.api.test_guilds import add_member, new_guild

if TYPE_CHECKING:
    from tests.running import ApiClient, Person

CANNOT_MESSAGE = {"code": 50007, "message": "Cannot send messages to this user"}


async def open_dm(api: ApiClient, who: Person, other: Person) -> dict[str, object]:
    response = await api.http.post(
        "/api/v10/users/@me/channels", headers=who.auth, json={"recipient_id": str(other.id)}
    )
    body: dict[str, object] = response.json()
    return body


async def neighbours(api: ApiClient) -> tuple[Person, Person]:
    """Two people who share a guild, so they may DM each other."""
    alice, bob = await api.register(), await api.register()
    guild = await new_guild(api, alice)
    await add_member(api, guild["id"], bob)
    return alice, bob


async def test_a_pair_has_one_dm_and_only_they_read_it(api: ApiClient) -> None:
    alice, bob = await neighbours(api)
    eve = await api.register()
    channel = await open_dm(api, alice, bob)
    assert channel["type"] == 1
    assert [u["id"] for u in channel["recipients"]] == [str(bob.id)]  # type: ignore[attr-defined]
    assert (await open_dm(api, bob, alice))["id"] == channel[
        "id"
    ]  # the same channel from either side
    url = f"/api/v10/channels/{channel['id']}/messages"
    sent = await api.http.post(url, headers=alice.auth, json={"content": f"hi <@{bob.id}>"})
    assert sent.status_code == 200
    assert "guild_id" not in sent.json()
    assert [m["content"] for m in (await api.http.get(url, headers=bob.auth)).json()] == [
        f"hi <@{bob.id}>"
    ]
    for attempt in (
        await api.http.get(url, headers=eve.auth),
        await api.http.get(f"/api/v10/channels/{channel['id']}", headers=eve.auth),
    ):
        assert attempt.json() == {"code": 10003, "message": "Unknown Channel"}
    assert (
        await api.http.post(url, headers=eve.auth, json={"content": "intruding"})
    ).status_code == 404
    listed = (await api.http.get("/api/v10/users/@me/channels", headers=bob.auth)).json()
    assert [c["id"] for c in listed] == [channel["id"]]
    pins = await api.http.put(
        f"/api/v10/channels/{channel['id']}/pins/{sent.json()['id']}", headers=bob.auth
    )
    assert pins.status_code == 204  # anyone in a DM may pin


async def test_strangers_cannot_dm_and_friends_can(api: ApiClient) -> None:
    alice, carol = await api.register(), await api.register()
    assert await open_dm(api, alice, carol) == CANNOT_MESSAGE
    assert (
        await api.http.put(
            f"/api/v10/users/@me/relationships/{carol.id}", headers=alice.auth, json={}
        )
    ).status_code == 204
    pending = (await api.http.get("/api/v10/users/@me/relationships", headers=carol.auth)).json()
    assert [(r["id"], r["type"]) for r in pending] == [(str(alice.id), 3)]  # an incoming request
    assert await open_dm(api, alice, carol) == CANNOT_MESSAGE  # a request is not a friendship
    await api.http.put(f"/api/v10/users/@me/relationships/{alice.id}", headers=carol.auth, json={})
    mine = (await api.http.get("/api/v10/users/@me/relationships", headers=alice.auth)).json()
    assert [(r["id"], r["type"]) for r in mine] == [(str(carol.id), 1)]
    assert (await open_dm(api, alice, carol))["type"] == 1


async def test_a_block_stops_dms_both_ways(api: ApiClient) -> None:
    alice, bob = await neighbours(api)
    channel = await open_dm(api, alice, bob)
    url = f"/api/v10/channels/{channel['id']}/messages"
    assert (
        await api.http.put(
            f"/api/v10/users/@me/relationships/{bob.id}", headers=alice.auth, json={"type": 2}
        )
    ).status_code == 204
    for sender in (alice, bob):
        response = await api.http.post(url, headers=sender.auth, json={"content": "hello?"})
        assert response.status_code == 403
        assert response.json() == CANNOT_MESSAGE
    assert await api.count(f"messages WHERE channel_id = {int(str(channel['id']))}") == 0
    assert (
        await api.http.put(
            f"/api/v10/users/@me/relationships/{alice.id}", headers=bob.auth, json={}
        )
    ).json() == CANNOT_MESSAGE
    assert (
        await api.http.delete(f"/api/v10/users/@me/relationships/{bob.id}", headers=alice.auth)
    ).status_code == 204
    assert (
        await api.http.post(url, headers=bob.auth, json={"content": "friends again?"})
    ).status_code == 200


async def test_group_dms_gather_friends(api: ApiClient) -> None:
    host, friend, stranger = await api.register(), await api.register(), await api.register()
    await api.http.put(f"/api/v10/users/@me/relationships/{friend.id}", headers=host.auth, json={})
    await api.http.put(f"/api/v10/users/@me/relationships/{host.id}", headers=friend.auth, json={})
    group = await api.http.post(
        "/api/v10/users/@me/channels",
        headers=host.auth,
        json={"recipients": [str(friend.id)], "name": "plans"},
    )
    assert group.status_code == 200
    assert (group.json()["type"], group.json()["name"], group.json()["owner_id"]) == (
        3,
        "plans",
        str(host.id),
    )
    with_stranger = await api.http.post(
        "/api/v10/users/@me/channels",
        headers=host.auth,
        json={"recipients": [str(friend.id), str(stranger.id)]},
    )
    assert with_stranger.json() == CANNOT_MESSAGE
    too_many = await api.http.post(
        "/api/v10/users/@me/channels",
        headers=host.auth,
        json={"recipients": [str(i) for i in range(1, 11)]},
    )
    assert field_errors(too_many) == {"recipients": ["BASE_TYPE_BAD_LENGTH"]}
    url = f"/api/v10/channels/{group.json()['id']}/messages"
    assert (
        await api.http.post(url, headers=friend.auth, json={"content": "count me in"})
    ).status_code == 200


async def test_bad_relationship_and_dm_requests(api: ApiClient) -> None:
    alice = await api.register()
    assert field_errors(
        await api.http.put(
            f"/api/v10/users/@me/relationships/{alice.id}", headers=alice.auth, json={"type": 7}
        )
    ) == {"type": ["BASE_TYPE_CHOICES"]}
    assert (
        await api.http.put(
            f"/api/v10/users/@me/relationships/{alice.id}", headers=alice.auth, json={}
        )
    ).json()["code"] == 10013
    assert (
        await api.http.put("/api/v10/users/@me/relationships/1", headers=alice.auth, json={})
    ).json()["code"] == 10013
    assert (
        await api.http.post(
            "/api/v10/users/@me/channels", headers=alice.auth, json={"recipient_id": "1"}
        )
    ).json()["code"] == 10013
    assert field_errors(
        await api.http.post("/api/v10/users/@me/channels", headers=alice.auth, json={})
    ) == {"recipient_id": ["BASE_TYPE_REQUIRED"]}
    assert await open_dm(api, alice, alice) == CANNOT_MESSAGE

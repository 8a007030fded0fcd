"""enforce_nonce under concurrency: simultaneous sends with one nonce create one message, and
every one of them answers it (issue #18: five at once created two to five). The window is
real: a nonce older than five minutes creates a new message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from tests.api.rooms import Room, count_messages, send
from tests.api.test_guilds import outbox_events

if TYPE_CHECKING:
    import httpx

    from tests.running import ApiClient

_SENDS = 5


async def _send_at_once(api: ApiClient, room: Room, body: dict[str, Any]) -> list[httpx.Response]:
    """`_SENDS` identical POSTs, each on a connection of its own, all started before any ends."""
    answers: list[httpx.Response] = []
    ready = trio.Event()

    async def one() -> None:
        await ready.wait()
        answers.append(await api.http.post(room.url(), headers=room.member.auth, json=body))

    async with trio.open_nursery() as nursery:
        for _ in range(_SENDS):
            nursery.start_soon(one)
        await trio.testing.wait_all_tasks_blocked()
        ready.set()
    return answers


async def _creates(api: ApiClient, room: Room) -> list[str]:
    return [e for e in await outbox_events(api, room.guild_id) if e == "MESSAGE_CREATE"]


async def test_enforce_nonce_simultaneous_sends_create_one_message_all_answer_it(
    api: ApiClient, room: Room
) -> None:
    before = (await count_messages(api, room), len(await _creates(api, room)))
    for round_ in range(3):  # the race was lost in a third of rounds; three rounds, three nonces
        body = {"content": "once", "nonce": f"n-at-once-{round_}", "enforce_nonce": True}
        answers = await _send_at_once(api, room, body)
        assert [a.status_code for a in answers] == [200] * _SENDS, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert {a.json()["nonce"] for a in answers} == {body["nonce"]}
    assert await count_messages(api, room) == before[0] + 3
    assert len(await _creates(api, room)) == before[1] + 3


async def test_enforce_nonce_after_the_window_creates_a_new_message(
    api: ApiClient, room: Room
) -> None:
    first = await send(api, room.member, room, content="a", nonce="n-window", enforce_nonce=True)
    retry = await send(api, room.member, room, content="a", nonce="n-window", enforce_nonce=True)
    assert retry["id"] == first["id"]
    # Five minutes pass for this nonce: its claim is dated back, as time would have.
    await api.services.db.run(
        lambda c: c.execute(
            "UPDATE message_nonces SET created_at = now() - interval '5 minutes 1 second'"
            " WHERE message_id = %s",
            (int(first["id"]),),
        )
    )
    later = await send(api, room.member, room, content="a", nonce="n-window", enforce_nonce=True)
    assert later["id"] != first["id"]
    again = await send(api, room.member, room, content="a", nonce="n-window", enforce_nonce=True)
    assert again["id"] == later["id"]


async def test_enforce_nonce_of_a_deleted_message_creates_a_new_one(
    api: ApiClient, room: Room
) -> None:
    first = await send(api, room.member, room, content="b", nonce="n-deleted", enforce_nonce=True)
    deleted = await api.http.delete(room.url(f"/{first['id']}"), headers=room.member.auth)
    assert deleted.status_code == 204
    later = await send(api, room.member, room, content="b", nonce="n-deleted", enforce_nonce=True)
    assert later["id"] != first["id"]

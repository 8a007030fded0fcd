"""Messages over real HTTP: sending, history, replies, mentions, edits, deletes, reactions, pins."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

import pytest

from core.domain.permissions import Permission
from tests.api.rooms import Room, count_messages, send
from tests.api.test_auth import field_errors
from tests.api.test_guilds import (
    MISSING_PERMISSIONS,
    add_member,
    new_guild,
    new_role,
    outbox_events,
)
from tests.api.test_members import general_channel
from tests.api.test_ratelimits import frozen_clock
from tests.running import running_api

if TYPE_CHECKING:
    import httpx

    from core.config import Settings
    from core.store.database import Database
    from tests.running import ApiClient

P = Permission
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


async def test_a_sent_message_has_every_key_libraries_read(api: ApiClient, room: Room) -> None:
    message = await send(api, room.member, room, content="hello there", nonce="n-1")
    for key in (
        "id",
        "channel_id",
        "guild_id",
        "author",
        "member",
        "content",
        "timestamp",
        "edited_timestamp",
        "tts",
        "mention_everyone",
        "mentions",
        "mention_roles",
        "attachments",
        "embeds",
        "pinned",
        "type",
        "flags",
        "nonce",
    ):
        assert key in message, key
    assert message["content"] == "hello there"
    assert TIMESTAMP.match(str(message["timestamp"]))
    assert message["edited_timestamp"] is None
    assert message["author"]["id"] == str(room.member.id)
    assert "user" not in message["member"]
    assert message["nonce"] == "n-1"
    fetched = (await api.http.get(room.url(f"/{message['id']}"), headers=room.owner.auth)).json()
    assert fetched["content"] == "hello there"
    assert "MESSAGE_CREATE" in await outbox_events(api, room.guild_id)


async def test_history_pages_before_after_and_around(api: ApiClient, room: Room) -> None:
    ids = [int(str((await send(api, room.owner, room, content=f"m{i}"))["id"])) for i in range(7)]

    def contents(response: httpx.Response) -> list[str]:
        return [m["content"] for m in response.json()]

    assert contents(await api.http.get(room.url(), headers=room.member.auth)) == [
        f"m{i}" for i in reversed(range(7))
    ]
    assert contents(await api.http.get(room.url("?limit=2"), headers=room.member.auth)) == [
        "m6",
        "m5",
    ]
    assert contents(
        await api.http.get(room.url(f"?before={ids[3]}&limit=2"), headers=room.member.auth)
    ) == ["m2", "m1"]
    assert contents(
        await api.http.get(room.url(f"?after={ids[3]}&limit=2"), headers=room.member.auth)
    ) == ["m5", "m4"]
    assert contents(
        await api.http.get(room.url(f"?around={ids[3]}&limit=3"), headers=room.member.auth)
    ) == ["m4", "m3", "m2"]
    both = await api.http.get(
        room.url(f"?before={ids[3]}&after={ids[1]}"), headers=room.member.auth
    )
    assert field_errors(both) == {"before": ["BASE_TYPE_EXCLUSIVE"]}
    assert field_errors(await api.http.get(room.url("?limit=101"), headers=room.member.auth)) == {
        "limit": ["NUMBER_TYPE_MAX"]
    }


async def test_a_history_page_shows_each_message_as_fetching_it_alone_does(
    api: ApiClient, room: Room
) -> None:
    # A page reads what it shows by SQL over the page; one message reads it by ids. Both must
    # show the same: authors with their member (a nick), mentions, each viewer's reactions,
    # and the message replied to, also when that lies outside the page.
    nick = await api.http.patch(
        f"/api/v10/guilds/{room.guild_id}/members/@me",
        headers=room.member.auth,
        json={"nick": "Quiet"},
    )
    assert nick.status_code == 200, nick.text
    # The owner is mentioned, and reacts, but writes none of them.
    question = await send(api, room.member, room, content="who is there?")
    answer = await send(
        api,
        room.member,
        room,
        content=f"me, <@{room.owner.id}>",
        message_reference={"message_id": question["id"]},
    )
    plain = await send(api, room.member, room, content="plain")
    thumbs = "%F0%9F%91%8D"
    for message, who in ((question, room.member), (question, room.owner), (answer, room.owner)):
        reacted = await api.http.put(
            room.url(f"/{message['id']}/reactions/{thumbs}/@me"), headers=who.auth
        )
        assert reacted.status_code == 204
    ids = [question["id"], answer["id"], plain["id"]]
    for viewer in (room.owner, room.member):
        alone = {
            i: (await api.http.get(room.url(f"/{i}"), headers=viewer.auth)).json() for i in ids
        }
        for query, shown in (
            ("", ids),
            (f"?before={plain['id']}&limit=1", ids[1:2]),  # the question only as replied to
            (f"?after={question['id']}", ids[1:]),
            (f"?around={answer['id']}&limit=3", ids),
        ):
            page = (await api.http.get(room.url(query), headers=viewer.auth)).json()
            assert page == [alone[i] for i in reversed(shown)], query
    assert alone[answer["id"]]["member"]["nick"] == "Quiet"
    assert alone[answer["id"]]["referenced_message"]["reactions"][0]["count"] == 2
    assert str(room.owner.id) in {u["id"] for u in alone[answer["id"]]["mentions"]}


async def test_enforced_nonce_returns_the_first_message_instead_of_a_second(
    api: ApiClient, room: Room
) -> None:
    first = await send(api, room.member, room, content="once", nonce=12345, enforce_nonce=True)
    retry = await send(api, room.member, room, content="once", nonce=12345, enforce_nonce=True)
    assert retry["id"] == first["id"]
    assert await count_messages(api, room) == 1
    other = await send(
        api, room.member, room, content="once", nonce=12345
    )  # not enforced: a new message
    assert other["id"] != first["id"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"content": "x" * 2001}, {"content": ["BASE_TYPE_MAX_LENGTH"]}),
        ({"content": "   "}, {"_errors": ["MESSAGE_EMPTY"]}),
        ({}, {"_errors": ["MESSAGE_EMPTY"]}),
        ({"embeds": [{"title": "t"}] * 11}, {"embeds": ["BASE_TYPE_MAX_LENGTH"]}),
        ({"embeds": [{"description": "d" * 4096}, {"description": "d" * 2000}]}, {"embeds": ["MAX_EMBED_SIZE_EXCEEDED"]}),
        ({"content": "hi", "nonce": "n" * 26}, {"nonce": ["BASE_TYPE_MAX_LENGTH"]}),
        ({"content": "hi", "nonce": 2**64}, {"nonce": ["NUMBER_TYPE_MAX"]}),
        ({"content": "hi", "enforce_nonce": True}, {"nonce": ["BASE_TYPE_REQUIRED"]}),
        ({"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}, {"allowed_mentions": ["MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"]}),
        ({"content": "hi", "allowed_mentions": {"parse": ["cats"]}}, {"allowed_mentions": ["MESSAGE_ALLOWED_MENTIONS_PARSE_INVALID"]}),
        ({"content": "hi", "flags": 1}, {"flags": ["MESSAGE_FLAGS_INVALID"]}),
        ({"content": 5}, {"content": ["BASE_TYPE_STRING"]}),
        ({"content": "hi", "message_reference": {"message_id": "1", "channel_id": "2"}}, {"message_reference": ["MESSAGE_REFERENCE_INVALID_CHANNEL"]}),
        ({"content": "hi", "message_reference": {"message_id": "1"}}, {"message_reference": ["REPLIES_UNKNOWN_MESSAGE"]}),
    ],
)  # fmt: skip
async def test_bad_messages_are_refused_and_nothing_is_stored(
    api: ApiClient, room: Room, body: dict[str, object], errors: dict[str, list[str]]
) -> None:
    response = await api.http.post(room.url(), headers=room.member.auth, json=body)
    assert response.status_code == 400
    tree = response.json()["errors"]
    found = {
        key: [e["code"] for e in node["_errors"]] if key != "_errors" else [e["code"] for e in node]
        for key, node in tree.items()
    }
    assert found == errors
    assert await count_messages(api, room) == 0


async def test_replies_carry_the_message_they_answer_and_mention_its_author(
    api: ApiClient, room: Room
) -> None:
    question = await send(api, room.owner, room, content="who is there?")
    answer = await send(
        api, room.member, room, content="me", message_reference={"message_id": question["id"]}
    )
    assert answer["type"] == 19
    assert answer["message_reference"]["message_id"] == question["id"]
    assert answer["referenced_message"]["content"] == "who is there?"
    assert [u["id"] for u in answer["mentions"]] == [str(room.owner.id)]
    quiet = await send(
        api,
        room.member,
        room,
        content="me too",
        message_reference={"message_id": question["id"]},
        allowed_mentions={"replied_user": False},
    )
    assert quiet["mentions"] == []
    orphan = await send(
        api,
        room.member,
        room,
        content="to nothing",
        message_reference={"message_id": "1", "fail_if_not_exists": False},
    )
    assert "message_reference" not in orphan


async def test_mentions_follow_permissions_and_allowed_mentions(api: ApiClient, room: Room) -> None:
    quiet_role = await new_role(api, room.owner, room.guild_id, name="quiet")
    loud_role = await new_role(api, room.owner, room.guild_id, name="loud", mentionable=True)
    content = f"<@{room.owner.id}> <@!{room.member.id}> <@999> <@&{quiet_role['id']}> <@&{loud_role['id']}> @everyone"
    plain = await send(api, room.member, room, content=content)
    assert sorted(u["id"] for u in plain["mentions"]) == sorted(
        [str(room.owner.id), str(room.member.id)]
    )
    # @everyone holds MENTION_EVERYONE by default, which pings any role, mentionable or not.
    assert sorted(plain["mention_roles"]) == sorted([str(quiet_role["id"]), str(loud_role["id"])])
    assert plain["mention_everyone"] is True
    limited = await send(
        api,
        room.member,
        room,
        content=content,
        allowed_mentions={"parse": [], "users": [str(room.owner.id)]},
    )
    assert [u["id"] for u in limited["mentions"]] == [str(room.owner.id)]
    assert limited["mention_roles"] == []
    assert limited["mention_everyone"] is False
    owner_only = (
        await api.http.get(f"/api/v10/guilds/{room.guild_id}/roles", headers=room.owner.auth)
    ).json()
    everyone = next(r for r in owner_only if r["id"] == room.guild_id)
    await api.http.patch(
        f"/api/v10/guilds/{room.guild_id}/roles/{room.guild_id}",
        headers=room.owner.auth,
        json={"permissions": str(int(everyone["permissions"]) & ~int(P.MENTION_EVERYONE))},
    )
    without = await send(api, room.member, room, content=content)
    assert without["mention_everyone"] is False
    assert without["mention_roles"] == [loud_role["id"]]  # without it, only the mentionable role


async def test_sending_needs_send_messages_and_tts_needs_its_own(
    api: ApiClient, room: Room
) -> None:
    await api.http.put(
        f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "deny": str(int(P.SEND_MESSAGES | P.SEND_TTS_MESSAGES))},
    )
    plain = await api.http.post(room.url(), headers=room.member.auth, json={"content": "hi"})
    assert plain.json() == MISSING_PERMISSIONS
    await api.http.put(
        f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "deny": str(int(P.SEND_TTS_MESSAGES | P.READ_MESSAGE_HISTORY))},
    )
    tts = await api.http.post(
        room.url(), headers=room.member.auth, json={"content": "hi", "tts": True}
    )
    assert tts.json() == MISSING_PERMISSIONS
    history = await api.http.get(room.url(), headers=room.member.auth)
    assert history.json() == MISSING_PERMISSIONS
    assert await count_messages(api, room) == 0


async def test_only_the_author_edits_and_every_version_is_kept(api: ApiClient, room: Room) -> None:
    message = await send(api, room.member, room, content="frist")
    url = room.url(f"/{message['id']}")
    by_owner = await api.http.patch(url, headers=room.owner.auth, json={"content": "hijacked"})
    assert by_owner.status_code == 403
    assert by_owner.json() == {
        "code": 50005,
        "message": "Cannot edit a message authored by another user",
    }
    edited = (await api.http.patch(url, headers=room.member.auth, json={"content": "first"})).json()
    assert edited["content"] == "first"
    assert TIMESTAMP.match(edited["edited_timestamp"])
    emptied = await api.http.patch(url, headers=room.member.auth, json={"content": ""})
    assert field_errors(emptied) == {"content": ["MESSAGE_EMPTY"]}
    suppress = await api.http.patch(
        url, headers=room.owner.auth, json={"flags": 4}
    )  # owner has MANAGE_MESSAGES
    assert suppress.json()["flags"] == 4
    versions = await api.services.db.run(
        lambda c: c.execute(
            "SELECT content FROM message_edits WHERE message_id = %s ORDER BY replaced_at",
            (int(str(message["id"])),),
        ).fetchall()
    )
    assert [v for (v,) in versions] == ["frist", "first"]
    assert "MESSAGE_UPDATE" in await outbox_events(api, room.guild_id)


async def test_delete_is_for_the_author_or_a_moderator(api: ApiClient, room: Room) -> None:
    mine = await send(api, room.owner, room, content="owner's")
    theirs = await send(api, room.member, room, content="member's")
    refused = await api.http.delete(room.url(f"/{mine['id']}"), headers=room.member.auth)
    assert refused.json() == MISSING_PERMISSIONS
    assert (
        await api.http.delete(room.url(f"/{theirs['id']}"), headers=room.member.auth)
    ).status_code == 204
    assert (
        await api.http.delete(room.url(f"/{mine['id']}"), headers=room.owner.auth)
    ).status_code == 204
    gone = await api.http.get(room.url(f"/{mine['id']}"), headers=room.owner.auth)
    assert gone.json() == {"code": 10008, "message": "Unknown Message"}
    assert (await outbox_events(api, room.guild_id)).count("MESSAGE_DELETE") == 2


async def test_bulk_delete_rules(api: ApiClient, room: Room) -> None:
    ids = [str((await send(api, room.owner, room, content=str(i)))["id"]) for i in range(3)]
    bulk = room.url("/bulk-delete")
    assert field_errors(
        await api.http.post(bulk, headers=room.owner.auth, json={"messages": ids[:1]})
    ) == {"messages": ["BASE_TYPE_BAD_LENGTH"]}
    assert field_errors(
        await api.http.post(bulk, headers=room.owner.auth, json={"messages": [ids[0], ids[0]]})
    ) == {"messages": ["BASE_TYPE_DUPLICATES"]}
    too_old = str(1 << 40)  # a snowflake from 2015
    old = await api.http.post(bulk, headers=room.owner.auth, json={"messages": [ids[0], too_old]})
    assert old.json() == {"code": 50034, "message": "A message provided was too old to bulk delete"}
    refused = await api.http.post(bulk, headers=room.member.auth, json={"messages": ids[:2]})
    assert refused.json() == MISSING_PERMISSIONS
    assert await count_messages(api, room) == 3
    assert (
        await api.http.post(bulk, headers=room.owner.auth, json={"messages": ids[:2]})
    ).status_code == 204
    assert await count_messages(api, room) == 1
    assert "MESSAGE_DELETE_BULK" in await outbox_events(api, room.guild_id)


async def test_reactions(api: ApiClient, room: Room) -> None:
    message = await send(api, room.owner, room, content="react to me")
    base = room.url(f"/{message['id']}/reactions")
    thumbs = "%F0%9F%91%8D"  # 👍, URL-encoded as clients send it
    assert (await api.http.put(f"{base}/{thumbs}/@me", headers=room.member.auth)).status_code == 204
    assert (await api.http.put(f"{base}/{thumbs}/@me", headers=room.owner.auth)).status_code == 204
    assert (
        await api.http.put(f"{base}/{thumbs}/@me", headers=room.owner.auth)
    ).status_code == 204  # idempotent
    seen = (await api.http.get(room.url(f"/{message['id']}"), headers=room.member.auth)).json()
    assert seen["reactions"] == [
        {
            "count": 2,
            "count_details": {"burst": 0, "normal": 2},
            "me": True,
            "me_burst": False,
            "burst_colors": [],
            "emoji": {"id": None, "name": "👍"},
        }
    ]
    users = (await api.http.get(f"{base}/{thumbs}?limit=10", headers=room.member.auth)).json()
    assert sorted(u["id"] for u in users) == sorted([str(room.owner.id), str(room.member.id)])
    for bad in ("nope", "a%20b", "custom:123", "%3A%3A"):
        response = await api.http.put(f"{base}/{bad}/@me", headers=room.member.auth)
        assert response.json() == {"code": 10014, "message": "Unknown Emoji"}, bad
    others = await api.http.delete(f"{base}/{thumbs}/{room.owner.id}", headers=room.member.auth)
    assert others.json() == MISSING_PERMISSIONS
    assert (
        await api.http.delete(f"{base}/{thumbs}/@me", headers=room.member.auth)
    ).status_code == 204
    assert (await api.http.delete(base, headers=room.owner.auth)).status_code == 204
    assert (
        "reactions"
        not in (await api.http.get(room.url(f"/{message['id']}"), headers=room.owner.auth)).json()
    )
    events = await outbox_events(api, room.guild_id)
    assert {
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "MESSAGE_REACTION_REMOVE_ALL",
    } <= set(events)


async def test_a_new_emoji_needs_add_reactions_but_joining_one_does_not(
    api: ApiClient, room: Room
) -> None:
    message = await send(api, room.owner, room, content="x")
    base = room.url(f"/{message['id']}/reactions")
    await api.http.put(
        f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "deny": str(int(P.ADD_REACTIONS))},
    )
    assert (
        await api.http.put(f"{base}/%E2%9C%85/@me", headers=room.member.auth)
    ).json() == MISSING_PERMISSIONS
    assert (await api.http.put(f"{base}/%E2%9C%85/@me", headers=room.owner.auth)).status_code == 204
    assert (
        await api.http.put(f"{base}/%E2%9C%85/@me", headers=room.member.auth)
    ).status_code == 204


async def test_moderators_clear_one_emoji_and_reactors_come_in_pages(
    api: ApiClient, room: Room
) -> None:
    message = await send(api, room.owner, room, content="vote")
    base = room.url(f"/{message['id']}/reactions")
    third = await api.register()
    await add_member(api, room.guild_id, third)
    people = sorted((room.owner, room.member, third), key=lambda p: p.id)
    for person in people:
        assert (await api.http.put(f"{base}/%E2%9C%85/@me", headers=person.auth)).status_code == 204
    await api.http.put(f"{base}/%E2%9D%8C/@me", headers=room.member.auth)
    first = (await api.http.get(f"{base}/%E2%9C%85?limit=2", headers=third.auth)).json()
    rest = (
        await api.http.get(f"{base}/%E2%9C%85?limit=2&after={first[-1]['id']}", headers=third.auth)
    ).json()
    assert [u["id"] for u in first + rest] == [str(p.id) for p in people]  # by id, in pages
    refused = await api.http.delete(f"{base}/%E2%9C%85", headers=room.member.auth)
    assert refused.json() == MISSING_PERMISSIONS
    assert (await api.http.delete(f"{base}/%E2%9C%85", headers=room.owner.auth)).status_code == 204
    left = (await api.http.get(room.url(f"/{message['id']}"), headers=room.member.auth)).json()
    assert [(r["emoji"]["name"], r["count"]) for r in left["reactions"]] == [("❌", 1)]
    assert "MESSAGE_REACTION_REMOVE_EMOJI" in await outbox_events(api, room.guild_id)


async def test_pin_messages_alone_lets_a_member_pin(api: ApiClient, room: Room) -> None:
    message = await send(api, room.owner, room, content="pin me")
    pin = f"/api/v10/channels/{room.channel_id}/pins/{message['id']}"
    assert (await api.http.put(pin, headers=room.member.auth)).json() == MISSING_PERMISSIONS
    granted = await api.http.put(
        f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "allow": str(int(P.PIN_MESSAGES))},
    )
    assert granted.status_code == 204
    assert (await api.http.put(pin, headers=room.member.auth)).status_code == 204
    assert (await api.http.get(room.url(f"/{message['id']}"), headers=room.owner.auth)).json()[
        "pinned"
    ] is True


async def test_pins_on_both_routes_and_their_permission(api: ApiClient, room: Room) -> None:
    message = await send(api, room.member, room, content="pin me")
    old_route = f"/api/v10/channels/{room.channel_id}/pins"
    assert (
        await api.http.put(f"{old_route}/{message['id']}", headers=room.member.auth)
    ).json() == MISSING_PERMISSIONS
    assert (
        await api.http.put(f"{old_route}/{message['id']}", headers=room.owner.auth)
    ).status_code == 204
    listed = (await api.http.get(old_route, headers=room.member.auth)).json()
    assert [m["id"] for m in listed] == [message["id"]]
    assert listed[0]["pinned"] is True
    new_route = room.url("/pins")
    page = (await api.http.get(new_route, headers=room.member.auth)).json()
    assert page["has_more"] is False
    assert page["items"][0]["message"]["id"] == message["id"]
    assert TIMESTAMP.match(page["items"][0]["pinned_at"])
    assert (
        await api.http.delete(f"{new_route}/{message['id']}", headers=room.owner.auth)
    ).status_code == 204
    assert (await api.http.get(old_route, headers=room.member.auth)).json() == []
    assert (await outbox_events(api, room.guild_id)).count("CHANNEL_PINS_UPDATE") == 2


async def test_a_channel_holds_fifty_pins(api: ApiClient, room: Room) -> None:
    ids = [str((await send(api, room.owner, room, content=str(i)))["id"]) for i in range(51)]
    for message_id in ids[:50]:
        assert (
            await api.http.put(
                f"/api/v10/channels/{room.channel_id}/pins/{message_id}", headers=room.owner.auth
            )
        ).status_code == 204
    full = await api.http.put(
        f"/api/v10/channels/{room.channel_id}/pins/{ids[50]}", headers=room.owner.auth
    )
    assert full.json() == {"code": 30003, "message": "Maximum number of pins reached (50)"}


async def test_typing_is_announced_and_never_stored(api: ApiClient, room: Room) -> None:
    response = await api.http.post(
        f"/api/v10/channels/{room.channel_id}/typing", headers=room.member.auth
    )
    assert response.status_code == 204
    assert (await outbox_events(api, room.guild_id))[-1] == "TYPING_START"
    assert await count_messages(api, room) == 0


async def test_categories_take_no_messages(api: ApiClient, room: Room) -> None:
    channels = (
        await api.http.get(f"/api/v10/guilds/{room.guild_id}/channels", headers=room.owner.auth)
    ).json()
    category = next(c for c in channels if c["type"] == 4)
    response = await api.http.post(
        f"/api/v10/channels/{category['id']}/messages",
        headers=room.owner.auth,
        json={"content": "hi"},
    )
    assert response.json() == {
        "code": 50008,
        "message": "Cannot send messages in a non-text channel",
    }


async def test_five_messages_per_five_seconds_per_channel(settings: Settings, db: Database) -> None:
    frozen = dataclasses.replace(settings, rate_limits=True)
    async with running_api(frozen, db, frozen_clock) as api:
        owner = await api.register()
        guild = await new_guild(api, owner)
        channel = await general_channel(api, owner, guild["id"])
        url = f"/api/v10/channels/{channel['id']}/messages"
        answers = [
            await api.http.post(url, headers=owner.auth, json={"content": str(i)}) for i in range(6)
        ]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[0].headers["x-ratelimit-limit"] == "5"
        other = (
            await api.http.post(
                f"/api/v10/guilds/{guild['id']}/channels",
                headers=owner.auth,
                json={"name": "other"},
            )
        ).json()
        elsewhere = await api.http.post(
            f"/api/v10/channels/{other['id']}/messages", headers=owner.auth, json={"content": "hi"}
        )
        assert elsewhere.status_code == 200  # another channel, another bucket


async def test_search_finds_words_and_only_in_readable_channels(api: ApiClient, room: Room) -> None:
    hidden = (
        await api.http.post(
            f"/api/v10/guilds/{room.guild_id}/channels",
            headers=room.owner.auth,
            json={
                "name": "staff",
                "permission_overwrites": [
                    {"id": room.guild_id, "type": 0, "deny": str(int(P.VIEW_CHANNEL))}
                ],
            },
        )
    ).json()
    await send(api, room.owner, room, content="The quick brown fox")
    await send(
        api, room.member, room, content=f"a lazy dog <@{room.owner.id}> https://example.test"
    )
    secret = await api.http.post(
        f"/api/v10/channels/{hidden['id']}/messages",
        headers=room.owner.auth,
        json={"content": "quick staff secret"},
    )
    assert secret.status_code == 200
    search = f"/api/v10/guilds/{room.guild_id}/messages/search"

    def contents(body: dict[str, Any]) -> list[str]:
        return [hit[0]["content"] for hit in body["messages"]]

    by_member = (await api.http.get(f"{search}?content=quick", headers=room.member.auth)).json()
    by_owner = (await api.http.get(f"{search}?content=QUICK", headers=room.owner.auth)).json()
    assert (by_member["total_results"], contents(by_member)) == (1, ["The quick brown fox"])
    assert sorted(contents(by_owner)) == ["The quick brown fox", "quick staff secret"]
    by_author = (
        await api.http.get(f"{search}?author_id={room.member.id}", headers=room.owner.auth)
    ).json()
    assert contents(by_author) == [f"a lazy dog <@{room.owner.id}> https://example.test"]
    links = (
        await api.http.get(f"{search}?has=link&mentions={room.owner.id}", headers=room.owner.auth)
    ).json()
    assert links["total_results"] == 1
    nothing = (await api.http.get(f"{search}?content=elephant", headers=room.owner.auth)).json()
    assert nothing == {"total_results": 0, "messages": []}
    injection = await api.http.get(
        f"{search}?content=%27%29%3B%20DROP%20TABLE%20messages%3B--", headers=room.owner.auth
    )
    assert injection.status_code == 200
    assert await api.count("messages") >= 3
    assert field_errors(await api.http.get(f"{search}?has=cats", headers=room.owner.auth)) == {
        "has": ["BASE_TYPE_CHOICES"]
    }
    stranger = await api.register()
    assert (await api.http.get(f"{search}?content=quick", headers=stranger.auth)).json()[
        "code"
    ] == 10004

"""The bodies libraries really send (issue 19): copied from discord.py 2.7.1 (discord/http.py
handle_message_parameters, Guild.create_role, Role.edit, ...), discord.js 14.28.1
(structures/MessagePayload.js resolveBody, managers/*Manager.js, Guild.edit) and hikari
(impl/rest.py), each accepted and honoured. Discord ignores keys it does not define, and
libraries lean on that (discord.js sends `enforce_nonce` and `tts` on every message edit, its
Guild.edit puts `reason` in the body, and GuildMemberManager.edit sends its camelCase options
beside the snake_case ones), so Trioxide ignores them too; a key Discord defines that
Trioxide lacks is refused, 50035 UNSUPPORTED under the key, and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.rooms import count_messages, send
from tests.api.test_auth import field_errors
from tests.api.test_guilds import new_role

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.running import ApiClient


def _fill(body: object, ids: dict[str, str]) -> Any:
    """`body` with each "<name>" string replaced by ids[name] ("<name:int>" by it as a number:
    discord.py sends some snowflakes as JSON numbers)."""
    if isinstance(body, dict):
        return {key: _fill(value, ids) for key, value in body.items()}
    if isinstance(body, list):
        return [_fill(value, ids) for value in body]
    if isinstance(body, str) and body.startswith("<") and body.endswith(">"):
        name, _, kind = body[1:-1].partition(":")
        return int(ids[name]) if kind == "int" else ids[name]
    return body


_EMBED_PY = {"flags": 0, "color": 65280, "type": "rich", "description": "d", "title": "t"}

CREATE_MESSAGE = [
    # discord.py: channel.send("hello")
    pytest.param({"content": "hello", "components": [], "tts": False}, id="discord.py-send"),
    # discord.py: message.reply("hello", embed=..., nonce=12345, mention_author=False)
    pytest.param(
        {
            "embeds": [_EMBED_PY],
            "content": "hello",
            "components": [],
            "nonce": "12345",
            "enforce_nonce": True,
            "message_reference": {
                "message_id": "<message:int>",
                "channel_id": "<channel:int>",
                "guild_id": "<guild:int>",
                "fail_if_not_exists": True,
            },
            "tts": False,
            "allowed_mentions": {"replied_user": False, "parse": ["users", "roles"]},
        },
        id="discord.py-reply",
    ),
    # discord.py: channel.send("hello", stickers=None): an empty sticker list asks for none.
    pytest.param(
        {"content": "hello", "sticker_ids": [], "tts": False}, id="discord.py-no-stickers"
    ),
    # discord.js: channel.send("hello")
    pytest.param({"content": "hello", "tts": False, "enforce_nonce": False}, id="discord.js-send"),
    # discord.js: channel.send({content, embeds, reply}) with enforceNonce on the client
    pytest.param(
        {
            "content": "hello",
            "tts": False,
            "nonce": "1300000000000000000",
            "enforce_nonce": True,
            "embeds": [{"title": "t", "description": "d", "color": 65280}],
            "allowed_mentions": {"parse": ["users"], "replied_user": False},
            "message_reference": {"message_id": "<message>", "fail_if_not_exists": True},
        },
        id="discord.js-reply",
    ),
    # hikari: rest.create_message(channel, "hello")
    pytest.param({"content": "hello", "allowed_mentions": {"parse": []}}, id="hikari-send"),
    # hikari: create_message(channel, "hello", reply=message, tts=False, nonce="n1",
    # embed=None, component=None, user_mentions=True)
    pytest.param(
        {
            "content": "hello",
            "nonce": "n1",
            "tts": False,
            "embeds": [],
            "components": [],
            "allowed_mentions": {"parse": ["users"]},
            "enforce_nonce": True,
            "message_reference": {"message_id": "<message>"},
        },
        id="hikari-reply",
    ),
]


@pytest.mark.parametrize("body", CREATE_MESSAGE)
async def test_library_message_create_bodies_are_honoured(
    api: ApiClient, room: Room, body: dict[str, Any]
) -> None:
    earlier = await send(api, room.owner, room, content="earlier")
    ids = {"message": earlier["id"], "channel": room.channel_id, "guild": room.guild_id}
    sent = body.get("message_reference") is not None
    response = await api.http.post(room.url(), headers=room.member.auth, json=_fill(body, ids))
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["content"] == "hello"
    assert message["tts"] is False
    assert [e.get("title") for e in message["embeds"]] == [
        e.get("title") for e in body.get("embeds", [])
    ]
    if "nonce" in body:
        assert str(message["nonce"]) == body["nonce"]
    if sent:
        assert message["message_reference"]["message_id"] == earlier["id"]
        assert message["type"] == 19  # REPLY


EDIT_MESSAGE = [
    # discord.py: message.edit(content="edited") (tts always rides along)
    pytest.param({"content": "edited", "tts": False}, id="discord.py-edit"),
    # discord.py: message.edit(content="edited", embed=None, view=None)
    pytest.param(
        {"embeds": [], "content": "edited", "components": [], "tts": False},
        id="discord.py-edit-clearing",
    ),
    # discord.js: message.edit("edited") (issue 19: refused before as UNKNOWN_FIELD)
    pytest.param({"content": "edited", "tts": False, "enforce_nonce": False}, id="discord.js-edit"),
    # discord.js: message.edit({content, embeds: [], components: [], flags: 0}) on its own message
    pytest.param(
        {
            "content": "edited",
            "tts": False,
            "enforce_nonce": False,
            "embeds": [],
            "components": [],
            "allowed_mentions": {"parse": ["users", "roles"]},
            "flags": 0,
        },
        id="discord.js-edit-full",
    ),
    # hikari: rest.edit_message(channel, message, "edited", embed=None, component=None)
    pytest.param(
        {"content": "edited", "embeds": [], "components": [], "allowed_mentions": {"parse": []}},
        id="hikari-edit",
    ),
]


@pytest.mark.parametrize("body", EDIT_MESSAGE)
async def test_library_message_edit_bodies_are_honoured(
    api: ApiClient, room: Room, body: dict[str, Any]
) -> None:
    original = await send(api, room.member, room, content="original", embeds=[{"title": "old"}])
    response = await api.http.patch(
        room.url(f"/{original['id']}"), headers=room.member.auth, json=body
    )
    assert response.status_code == 200, response.text
    stored = (await api.http.get(room.url(f"/{original['id']}"), headers=room.member.auth)).json()
    assert stored["content"] == "edited"
    assert stored["edited_timestamp"] is not None
    assert stored["tts"] is False
    # Embeds change only when the body names them.
    assert len(stored["embeds"]) == (0 if "embeds" in body else 1)


NOT_YET_ON_CREATE = [
    pytest.param(
        "poll",
        {"question": {"text": "?"}, "answers": [{"poll_media": {"text": "a"}}], "duration": 1},
        id="poll",
    ),
    pytest.param("sticker_ids", ["1"], id="stickers"),
    pytest.param("shared_client_theme", {"colors": ["ff0000"]}, id="theme"),
]


@pytest.mark.parametrize(("key", "value"), NOT_YET_ON_CREATE)
async def test_defined_keys_trioxide_lacks_are_refused_by_name_and_send_nothing(
    api: ApiClient, room: Room, key: str, value: object
) -> None:
    before = await count_messages(api, room)
    response = await api.http.post(
        room.url(), headers=room.member.auth, json={"content": "hi", "tts": False, key: value}
    )
    assert field_errors(response) == {key: ["UNSUPPORTED"]}
    assert await count_messages(api, room) == before


async def test_unsupported_keys_are_named_where_they_nest(api: ApiClient, room: Room) -> None:
    earlier = await send(api, room.owner, room, content="earlier")
    # A forward (hikari's forward_message, discord.js's `forward`) is not a reply: refused.
    forward = await api.http.post(
        room.url(),
        headers=room.member.auth,
        json={"message_reference": {"type": 1, "message_id": earlier["id"]}},
    )
    assert forward.status_code == 400
    errors = forward.json()["errors"]
    assert errors["message_reference"]["type"]["_errors"][0]["code"] == "UNSUPPORTED"
    assert await count_messages(api, room) == 1


async def test_an_edit_naming_attachments_to_keep_is_refused_and_changes_nothing(
    api: ApiClient, room: Room
) -> None:
    original = await send(api, room.member, room, content="original")
    # hikari's edit(attachment=None) and discord.js's removeAttachments() send [] to remove
    # every attachment: ignoring that would keep what the sender meant to remove.
    response = await api.http.patch(
        room.url(f"/{original['id']}"),
        headers=room.member.auth,
        json={"content": "edited", "attachments": []},
    )
    assert field_errors(response) == {"attachments": ["UNSUPPORTED"]}
    stored = (await api.http.get(room.url(f"/{original['id']}"), headers=room.member.auth)).json()
    assert (stored["content"], stored["edited_timestamp"]) == ("original", None)


async def test_keys_discord_does_not_define_are_ignored(api: ApiClient, room: Room) -> None:
    response = await api.http.post(
        room.url(),
        headers=room.member.auth,
        json={"content": "hi", "author": {"id": "1"}, "pinned": True, "mention_everyone": True},
    )
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["author"]["id"] == str(room.member.id)
    assert (message["pinned"], message["mention_everyone"]) == (False, False)
    # Known keys keep their strict types even beside ignored ones.
    typed = await api.http.post(
        room.url(), headers=room.member.auth, json={"content": 5, "whatever": 1}
    )
    assert field_errors(typed) == {"content": ["BASE_TYPE_STRING"]}


# Guilds, channels, roles and members, as each library sends them.


async def test_library_guild_bodies_are_honoured(api: ApiClient, room: Room) -> None:
    owner = room.owner
    # discord.py: Client.create_guild(name="Made by py")
    py = await api.http.post("/api/v10/guilds", headers=owner.auth, json={"name": "Made by py"})
    # discord.js: client.guilds.create({name: "Made by js"}) (icon null, no roles or channels)
    js = await api.http.post(
        "/api/v10/guilds",
        headers=owner.auth,
        json={"name": "Made by js", "icon": None, "roles": [], "channels": []},
    )
    assert (py.status_code, js.status_code) == (201, 201), (py.text, js.text)
    assert (py.json()["name"], js.json()["name"]) == ("Made by py", "Made by js")
    url = f"/api/v10/guilds/{room.guild_id}"
    edits: list[tuple[dict[str, object], dict[str, object]]] = [
        # discord.py: guild.edit(name=..., description=..., verification_level=...)
        ({"name": "py", "description": "from py", "verification_level": 1}, {"name": "py"}),
        # discord.js: guild.setName("js", "why") puts its reason in the body.
        ({"name": "js", "reason": "why"}, {"name": "js"}),
        # discord.js: guild.edit({afkTimeout: 900, premiumProgressBarEnabled: false})
        ({"afk_timeout": 900, "premium_progress_bar_enabled": False}, {"afk_timeout": 900}),
        # hikari: rest.edit_guild(guild, name="hk", default_message_notifications=1,
        # system_channel_flags=0, features=[])
        (
            {
                "name": "hk",
                "default_message_notifications": 1,
                "system_channel_flags": 0,
                "features": [],
            },
            {"name": "hk", "default_message_notifications": 1},
        ),
    ]
    for body, expected in edits:
        response = await api.http.patch(url, headers=owner.auth, json=body)
        assert response.status_code == 200, response.text
        guild = (await api.http.get(url, headers=owner.auth)).json()
        assert {key: guild[key] for key in expected} == expected
    assert guild["description"] == "from py"


async def test_guild_keys_trioxide_lacks_are_refused(api: ApiClient, room: Room) -> None:
    url = f"/api/v10/guilds/{room.guild_id}"
    before = (await api.http.get(url, headers=room.owner.auth)).json()
    for body, key in [
        ({"name": "new", "owner_id": str(room.member.id)}, "owner_id"),
        ({"name": "new", "premium_progress_bar_enabled": True}, "premium_progress_bar_enabled"),
        ({"name": "new", "features": ["COMMUNITY"]}, "features"),
        ({"name": "new", "banner": "data:image/png;base64,AA=="}, "banner"),
    ]:
        response = await api.http.patch(url, headers=room.owner.auth, json=body)
        assert field_errors(response) == {key: ["UNSUPPORTED"]}
    assert (await api.http.get(url, headers=room.owner.auth)).json() == before


async def test_library_channel_bodies_are_honoured(api: ApiClient, room: Room) -> None:
    url = f"/api/v10/guilds/{room.guild_id}/channels"
    role = await new_role(api, room.owner, room.guild_id, name="readers")
    creates = [
        # discord.py: guild.create_text_channel("py-made", topic="t", slowmode_delay=5)
        {
            "type": 0,
            "name": "py-made",
            "permission_overwrites": [],
            "topic": "t",
            "rate_limit_per_user": 5,
        },
        # discord.js: guild.channels.create({name, topic, permissionOverwrites: [{id, allow}]})
        {
            "name": "js-made",
            "topic": "t",
            "permission_overwrites": [
                {"id": role["id"], "type": 0, "allow": "1024", "deny": "0"},
            ],
            "rate_limit_per_user": 5,
        },
        # hikari: rest.create_guild_text_channel(guild, "hk-made", topic="t",
        # rate_limit_per_user=5, permission_overwrites=[...])
        {
            "type": 0,
            "name": "hk-made",
            "topic": "t",
            "rate_limit_per_user": 5,
            "permission_overwrites": [{"id": role["id"], "type": 0, "allow": "1024", "deny": "0"}],
        },
    ]
    made = []
    for body in creates:
        response = await api.http.post(url, headers=room.owner.auth, json=body)
        assert response.status_code == 201, response.text
        channel = response.json()
        assert (channel["topic"], channel["rate_limit_per_user"]) == ("t", 5)
        made.append(channel)
    assert [len(c["permission_overwrites"]) for c in made] == [0, 1, 1]
    edits = [
        # discord.py: channel.edit(name="py-edit", topic="u", nsfw=True, slowmode_delay=0)
        {"name": "py-edit", "topic": "u", "nsfw": True, "rate_limit_per_user": 0},
        # discord.js: channel.edit({name: "js-edit", topic: "u", nsfw: true, rateLimitPerUser: 0})
        {"name": "js-edit", "topic": "u", "nsfw": True, "rate_limit_per_user": 0},
        # hikari: rest.edit_channel(channel, name="hk-edit", topic="u", nsfw=True,
        # rate_limit_per_user=0, flags=0)
        {"name": "hk-edit", "flags": 0, "topic": "u", "nsfw": True, "rate_limit_per_user": 0},
    ]
    for channel, body in zip(made, edits, strict=True):
        response = await api.http.patch(
            f"/api/v10/channels/{channel['id']}", headers=room.owner.auth, json=body
        )
        assert response.status_code == 200, response.text
        edited = response.json()
        assert (edited["name"], edited["topic"], edited["nsfw"]) == (body["name"], "u", True)
        assert edited["rate_limit_per_user"] == 0


async def test_library_role_bodies_are_honoured(api: ApiClient, room: Room) -> None:
    url = f"/api/v10/guilds/{room.guild_id}/roles"
    creates = [
        # discord.py: guild.create_role(name="py", permissions=Permissions(8192),
        # colour=0xFF0000, hoist=True, mentionable=True)
        {
            "permissions": "8192",
            "colors": {"primary_color": 0xFF0000},
            "hoist": True,
            "mentionable": True,
            "name": "py",
        },
        # discord.js: guild.roles.create({name: "js", color: 0xFF0000, hoist: true,
        # mentionable: true, permissions: [ManageMessages]})
        {
            "name": "js",
            "colors": {"primary_color": 0xFF0000, "secondary_color": None, "tertiary_color": None},
            "hoist": True,
            "permissions": "8192",
            "mentionable": True,
        },
        # hikari: rest.create_role(guild, name="hk", color=0xFF0000, hoist=True,
        # mentionable=True, permissions=Permissions.MANAGE_MESSAGES)
        {"name": "hk", "permissions": 8192, "color": 0xFF0000, "hoist": True, "mentionable": True},
    ]
    for body in creates:
        response = await api.http.post(url, headers=room.owner.auth, json=body)
        assert response.status_code == 200, response.text
        role = response.json()
        assert (role["permissions"], role["color"], role["hoist"], role["mentionable"]) == (
            "8192",
            0xFF0000,
            True,
            True,
        )
        edits = [
            # discord.py: role.edit(name="renamed", permissions=Permissions(0), colour=0x00FF00)
            {"name": "renamed", "permissions": 0, "colors": {"primary_color": 0x00FF00}},
            # discord.js: role.edit({name: "renamed", permissions: 0n, color: 0x00FF00})
            {
                "name": "renamed",
                "colors": {
                    "primary_color": 0x00FF00,
                    "secondary_color": None,
                    "tertiary_color": None,
                },
                "permissions": "0",
            },
            # hikari: rest.edit_role(guild, role, name="renamed", permissions=NONE, color=...)
            {"name": "renamed", "permissions": 0, "color": 0x00FF00},
        ]
        for edit in edits:
            edited = await api.http.patch(f"{url}/{role['id']}", headers=room.owner.auth, json=edit)
            assert edited.status_code == 200, edited.text
            assert (edited.json()["name"], edited.json()["color"]) == ("renamed", 0x00FF00)
            assert edited.json()["permissions"] == "0"


async def test_library_member_edit_bodies_are_honoured(api: ApiClient, room: Room) -> None:
    role = await new_role(api, room.owner, room.guild_id, name="helpers")
    url = f"/api/v10/guilds/{room.guild_id}/members/{room.member.id}"
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    js_until = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # Date.toISOString()
    bodies = [
        # discord.py: member.edit(nick="py", roles=[role], timed_out_until=moment)
        {"nick": "py", "roles": [role["id"]], "communication_disabled_until": moment.isoformat()},
        # discord.js: member.timeout(ms) sends its options as given, camelCase beside the
        # snake_case it adds; then member.edit({nick: "js", roles: [role]}).
        {
            "communicationDisabledUntil": js_until,
            "communication_disabled_until": js_until,
            "nick": "js",
            "roles": [role["id"]],
        },
        # hikari: rest.edit_member(guild, user, nickname="hk", roles=[role],
        # communication_disabled_until=moment)
        {"nick": "hk", "roles": [role["id"]], "communication_disabled_until": moment.isoformat()},
    ]
    for body in bodies:
        response = await api.http.patch(url, headers=room.owner.auth, json=body)
        assert response.status_code == 200, response.text
        member = (await api.http.get(url, headers=room.owner.auth)).json()
        assert member["nick"] == body["nick"]
        assert member["roles"] == [role["id"]]
        until = dt.datetime.fromisoformat(member["communication_disabled_until"])
        assert until == moment
    refused = await api.http.patch(url, headers=room.owner.auth, json={"nick": "x", "flags": 1})
    assert field_errors(refused) == {"flags": ["UNSUPPORTED"]}
    assert (await api.http.get(url, headers=room.owner.auth)).json()["nick"] == "hk"


async def test_a_stream_invite_is_refused_by_name_not_made_an_ordinary_one(
    api: ApiClient, room: Room
) -> None:
    url = f"/api/v10/channels/{room.channel_id}/invites"
    before = await api.count(f"invites WHERE channel_id = {int(room.channel_id)}")
    response = await api.http.post(url, headers=room.owner.auth, json={"target_type": 1})
    assert field_errors(response) == {"target_type": ["UNSUPPORTED"]}
    assert await api.count(f"invites WHERE channel_id = {int(room.channel_id)}") == before
    # discord.py sends the key as null with every invite it makes: that asks for nothing.
    made = await api.http.post(url, headers=room.owner.auth, json={"target_type": None})
    assert made.status_code == 200, made.text

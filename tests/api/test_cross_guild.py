"""No route lets anyone reach into a guild they are not in, or learn anything of it.

Generated from the app's own URL map, so every route with a guild, channel or role in its path
is covered, including routes added later."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from api.app import create_app
from tests.api.test_guilds import add_member, new_guild, new_role, outbox_events

if TYPE_CHECKING:
    from tests.running import ApiClient, Person

# A plausible body for each method, so requests get as far as the access check.
_BODIES: dict[str, object] = {
    "POST": {"name": "taken over", "type": 0},
    "PATCH": {"name": "taken over"},
    "PUT": {"type": 0, "allow": "8", "deny": "0"},
}
# Routes whose body is a list (channel and role positions).
_LIST_BODY = re.compile(r"/guilds/<guild_id>/(channels|roles)$")
_ID_PARAMETERS = ("guild_id", "channel_id", "role_id", "overwrite_id")


async def snapshot(api: ApiClient, owner: Person, guild_id: object) -> tuple[object, ...]:
    """Everything B's owner can see of B, to show nothing changed."""
    base = f"/api/v10/guilds/{guild_id}"
    parts = [
        (await api.http.get(base, headers=owner.auth)).json(),
        (await api.http.get(f"{base}/channels", headers=owner.auth)).json(),
        (await api.http.get(f"{base}/roles", headers=owner.auth)).json(),
        (await api.http.get(f"{base}/audit-logs", headers=owner.auth)).json(),
        [
            (await api.http.get(f"/api/v10/channels/{c['id']}/messages", headers=owner.auth)).json()
            for c in (await api.http.get(f"{base}/channels", headers=owner.auth)).json()
            if c["type"] == 0
        ],
        await outbox_events(api, guild_id),
    ]
    return tuple(map(str, parts))


async def test_no_route_reaches_into_another_guild(api: ApiClient) -> None:
    a_owner, b_owner, loner = await api.register(), await api.register(), await api.register()
    guild_a = await new_guild(api, a_owner, "Alpha Guild")
    guild_b = await new_guild(api, b_owner, "Secret Bravo Guild")
    b_role = await new_role(api, b_owner, guild_b["id"], name="bravo-secret-role")
    b_private = (
        await api.http.post(
            f"/api/v10/guilds/{guild_b['id']}/channels",
            headers=b_owner.auth,
            json={
                "name": "bravo-hidden-plans",
                "permission_overwrites": [{"id": guild_b["id"], "type": 0, "deny": "1024"}],
            },
        )
    ).json()
    b_channels = (
        await api.http.get(f"/api/v10/guilds/{guild_b['id']}/channels", headers=b_owner.auth)
    ).json()
    b_category = next(c for c in b_channels if c["type"] == 4)
    # A member of B who is not its owner, so member ids of B exist to name.
    b_member = await api.register()
    await add_member(api, guild_b["id"], b_member)
    a_channel = next(
        c
        for c in (
            await api.http.get(f"/api/v10/guilds/{guild_a['id']}/channels", headers=a_owner.auth)
        ).json()
        if c["type"] == 0
    )

    secrets_of_b = {
        str(guild_b["id"]), str(b_role["id"]), str(b_private["id"]), str(b_category["id"]),
        "Secret Bravo Guild", "bravo-secret-role", "bravo-hidden-plans", str(b_owner.id), str(b_member.id),
    }  # fmt: skip
    b_general = next(c for c in b_channels if c["name"] == "general")
    b_invite = (
        await api.http.post(
            f"/api/v10/channels/{b_general['id']}/invites", headers=b_owner.auth, json={}
        )
    ).json()
    b_message = (
        await api.http.post(
            f"/api/v10/channels/{b_general['id']}/messages",
            headers=b_owner.auth,
            json={"content": "bravo-secret-words"},
        )
    ).json()
    before = await snapshot(api, b_owner, guild_b["id"])

    ids_of_b = {
        "guild_id": guild_b["id"],
        "channel_id": b_private["id"],
        "role_id": b_role["id"],
        "overwrite_id": b_role["id"],
        "user_id": b_member.id,
        "message_id": b_message["id"],
        "emoji": "%F0%9F%91%8D",
    }
    secrets_of_b |= {str(b_message["id"]), "bravo-secret-words"}
    requests: list[tuple[str, str, object]] = []
    for rule in create_app(api.services).url_map.iter_rules():
        path = rule.rule
        if not path.startswith("/api/v10/") or not any(f"<{p}>" in path for p in _ID_PARAMETERS):
            continue
        url = path
        for name, value in ids_of_b.items():
            url = url.replace(f"<{name}>", str(value))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method == "PATCH" and _LIST_BODY.search(path):
                body: object = [{"id": str(b_private["id"]), "position": 1}]
            else:
                body = _BODIES.get(method)
            requests.append((method, url, body))
    # Guild A's own routes naming B's objects inside, and B's invite, which only B may revoke.
    a = f"/api/v10/guilds/{guild_a['id']}"
    requests += [
        ("DELETE", f"/api/v10/invites/{b_invite['code']}", None),
        (
            "POST",
            f"/api/v10/channels/{a_channel['id']}/messages",
            {"content": "hi", "message_reference": {"message_id": str(b_message["id"])}},
        ),
        (
            "POST",
            f"/api/v10/channels/{b_general['id']}/messages/bulk-delete",
            {"messages": [str(b_message["id"]), "1"]},
        ),
        ("PATCH", f"{a}/members/{b_member.id}", {"nick": "taken over"}),
        ("PUT", f"{a}/members/{b_member.id}/roles/{b_role['id']}", None),
        ("PATCH", f"{a}/channels", [{"id": str(b_private["id"]), "position": 0}]),
        ("PATCH", f"{a}/roles", [{"id": str(b_role["id"]), "position": 1}]),
        ("PATCH", f"{a}/roles/{b_role['id']}", {"name": "taken over"}),
        ("DELETE", f"{a}/roles/{b_role['id']}", None),
        ("POST", f"{a}/channels", {"name": "in-b", "parent_id": str(b_category["id"])}),
        (
            "POST",
            f"{a}/channels",
            {
                "name": "spy",
                "permission_overwrites": [{"id": str(b_role["id"]), "type": 0, "allow": "0"}],
            },
        ),
        (
            "PUT",
            f"/api/v10/channels/{a_channel['id']}/permissions/{b_role['id']}",
            {"type": 0, "allow": "0", "deny": "0"},
        ),
        (
            "PUT",
            f"/api/v10/channels/{a_channel['id']}/permissions/{b_member.id}",
            {"type": 1, "allow": "0", "deny": "0"},
        ),
        ("PATCH", a, {"system_channel_id": str(b_private["id"])}),
    ]
    assert len(requests) > 20, "the route map was read"

    for person in (a_owner, loner):
        for method, url, body in requests:
            response = await api.http.request(method, url, headers=person.auth, json=body)
            where = (
                f"{method} {url} as {'member of A' if person is a_owner else 'member of nothing'}"
            )
            assert response.status_code in (400, 403, 404), (
                f"{where}: {response.status_code} {response.text}"
            )
            for secret in secrets_of_b:
                assert secret not in response.text, f"{where} leaked {secret!r}: {response.text}"

    assert await snapshot(api, b_owner, guild_b["id"]) == before, "guild B changed"

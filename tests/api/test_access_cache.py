"""Cached guild snapshots: a committed change is seen by the next request on every process,
and nothing a rolled-back transaction saw is ever served."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from core.access import AccessCache, load_access
from core.domain.permissions import Permission
from core.store import guilds as guild_store
from tests.api.rooms import new_room
from tests.running import running_api

if TYPE_CHECKING:
    from core.config import Settings
    from core.store.database import Connection, Database
    from tests.running import ApiClient


async def test_a_change_through_one_process_is_seen_by_the_next_request_on_another(
    api: ApiClient, settings: Settings, db: Database
) -> None:
    room = await new_room(api)
    async with running_api(settings, db) as other:
        reading = await other.http.get(room.url(), headers=room.member.auth)
        assert reading.status_code == 200  # the other process now holds the guild's snapshot

        denied = await api.http.put(
            f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
            headers=room.owner.auth,
            json={"type": 1, "deny": str(int(Permission.VIEW_CHANNEL))},
        )
        assert denied.status_code == 204, denied.text
        reading = await other.http.get(room.url(), headers=room.member.auth)
        assert reading.status_code == 403
        assert reading.json()["code"] == 50001

        restored = await api.http.delete(
            f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
            headers=room.owner.auth,
        )
        assert restored.status_code == 204
        assert (await other.http.get(room.url(), headers=room.member.auth)).status_code == 200


class RolledBack(Exception):
    pass


async def test_what_a_rolled_back_transaction_cached_is_never_served(api: ApiClient) -> None:
    room = await new_room(api)
    guild_id, owner_id = int(room.guild_id), room.owner.id
    cache = AccessCache()
    ids = api.services.snowflakes

    def add_role_then_fail(connection: Connection) -> None:
        guild_store.insert_role(connection, ids.next_id(), guild_id, "doomed", 0, 1)
        names = {r.name for r in load_access(cache, connection, guild_id, owner_id).roles}
        assert "doomed" in names  # the snapshot of this transaction's own, uncommitted, state
        raise RolledBack

    with pytest.raises(RolledBack):
        await api.services.db.run(add_role_then_fail)

    def add_role(connection: Connection) -> None:
        guild_store.insert_role(connection, ids.next_id(), guild_id, "kept", 0, 1)

    await api.services.db.run(add_role)
    roles = await api.services.db.run(
        lambda c: {r.name for r in load_access(cache, c, guild_id, owner_id).roles}
    )
    assert "kept" in roles
    assert "doomed" not in roles


async def test_a_member_who_left_is_refused_at_once(api: ApiClient) -> None:
    room = await new_room(api)
    assert (await api.http.get(room.url(), headers=room.member.auth)).status_code == 200
    left = await api.http.delete(
        f"/api/v10/users/@me/guilds/{room.guild_id}", headers=room.member.auth
    )
    assert left.status_code == 204, left.text
    reading = await api.http.get(room.url(), headers=room.member.auth)
    assert reading.status_code == 404
    assert reading.json()["code"] == 10003

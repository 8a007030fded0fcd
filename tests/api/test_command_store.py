"""The command store as the interactions service reads it: a command by id, in any scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from core.domain.commands import CommandSpec
from core.store import commands as store
from tests.api.test_applications import create

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.running import ApiClient


async def test_command_by_id_reads_back_what_was_written(api: ApiClient) -> None:
    owner = await api.register()
    application_id = int(str((await create(api, owner))["id"]))
    spec = CommandSpec(
        type=1,
        name="ping",
        description="Pong?",
        name_localizations={"fr": "pong"},
        options=[{"type": 3, "name": "text", "description": "What to say"}],
        default_member_permissions=8,
        contexts=[0, 1],
    )
    written = await api.services.db.run(
        lambda c: store.insert_command(c, 11, application_id, None, spec, 12)
    )
    found = await api.services.db.run(lambda c: store.command_by_id(c, 11))
    assert found == written
    assert found is not None
    assert spec.matches(found)
    assert found.guild_id is None
    assert found.to_wire()["default_member_permissions"] == "8"
    assert found.to_wire()["version"] == "12"
    assert await api.services.db.run(lambda c: store.command_by_id(c, 13)) is None


async def test_a_sync_does_not_wait_for_an_interaction_in_flight(
    api: ApiClient, room: Room
) -> None:
    # Review of issue 19: lock_commands took FOR UPDATE on the application's row, which
    # conflicts with the FOR KEY SHARE every interactions insert takes through its foreign
    # key, so a sync waited for in-flight interactions of its app (and they for it).
    application_id = int(str((await create(api, room.owner))["id"]))
    with (
        psycopg.connect(api.services.db.url) as inserting,
        psycopg.connect(api.services.db.url) as syncing,
    ):
        inserting.execute(  # the transaction stays open: its key-share lock is held
            "INSERT INTO interactions (id, application_id, type, user_id, channel_id, token_hash)"
            " VALUES (%s, %s, 2, %s, %s, %s)",
            (21, application_id, room.owner.id, int(room.channel_id), b"held"),
        )
        syncing.execute("SET lock_timeout = '2s'")  # fails the test, rather than hang it
        store.lock_commands(syncing, application_id)  # LockNotAvailable before the fix
        syncing.rollback()
        inserting.rollback()

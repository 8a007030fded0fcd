"""The command store as the interactions service reads it: a command by id, in any scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain.commands import CommandSpec
from core.store import commands as store
from tests.api.test_applications import create

if TYPE_CHECKING:
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

"""What every guild mutation writes beside the change itself, in the same transaction: its
gateway events (to the outbox) and, for audited actions, an audit-log entry and its event."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import events
from core.store import guilds as store
from core.store import outbox
from core.store.database import execute_together

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.domain.audit import AuditAction
    from core.events import Event
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Statement


class Journal:
    def __init__(self, snowflakes: SnowflakeGenerator) -> None:
        self._snowflakes = snowflakes

    def emit(
        self, connection: Connection, *published: Event, along: Sequence[Statement] = ()
    ) -> None:
        """Writes the events to the outbox; `along`, the change they describe, in the same
        statement (atomic by itself, and one round trip)."""
        appended = [outbox.append(self._snowflakes.next_id(), event) for event in published]
        execute_together(connection, [*along, *appended])

    def audit(
        self,
        connection: Connection,
        *,
        guild_id: int,
        user_id: int,
        action: AuditAction,
        target_id: int | None,
        changes: list[dict[str, object]],
        reason: str | None,
        options: dict[str, object] | None = None,
    ) -> None:
        entry_id = self._snowflakes.next_id()
        store.insert_audit_entry(
            connection,
            entry_id=entry_id,
            guild_id=guild_id,
            user_id=user_id,
            target_id=target_id,
            action_type=int(action),
            changes=changes,
            reason=reason,
            options=options,
        )
        entry = store.audit_entry_wire(
            entry_id, user_id, target_id, int(action), changes, options, reason
        )
        self.emit(connection, events.audit_log_entry_create(guild_id, entry))

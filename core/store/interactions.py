"""SQL for interactions, the messages they created and their ephemeral messages. Blocking
functions on one connection, run through Database.run."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

from psycopg.rows import args_row, class_row

from core.domain.ephemeral_messages import EphemeralMessage
from core.domain.interactions import Interaction
from core.store.database import json_text

if TYPE_CHECKING:
    import datetime as dt

    from core.store.database import Connection, Statement

_COLUMNS = ", ".join(field.name for field in fields(Interaction))
_ROW = args_row(Interaction)
_EPHEMERAL_COLUMNS = ", ".join(field.name for field in fields(EphemeralMessage))


def insert_interaction(interaction: Interaction) -> Statement:
    """The new interaction (its created_at is the database's now(), not the dataclass's)."""
    return (
        "INSERT INTO interactions (id, application_id, type, user_id, guild_id, channel_id,"
        " token_hash, nonce, name, command_type, target_id, message_id, triggering_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            interaction.id,
            interaction.application_id,
            interaction.type,
            interaction.user_id,
            interaction.guild_id,
            interaction.channel_id,
            interaction.token_hash,
            interaction.nonce,
            interaction.name,
            interaction.command_type,
            interaction.target_id,
            interaction.message_id,
            interaction.triggering_id,
        ),
    )


def interaction_by_id(
    connection: Connection, interaction_id: int, *, lock: bool = False
) -> Interaction | None:
    suffix = " FOR UPDATE" if lock else ""
    return (
        connection.cursor(row_factory=_ROW)
        .execute(f"SELECT {_COLUMNS} FROM interactions WHERE id = %s{suffix}", (interaction_id,))
        .fetchone()
    )


def interaction_by_token_hash(
    connection: Connection, token_hash: bytes, *, lock: bool = False
) -> Interaction | None:
    suffix = " FOR UPDATE" if lock else ""
    return (
        connection.cursor(row_factory=_ROW)
        .execute(
            f"SELECT {_COLUMNS} FROM interactions WHERE token_hash = %s{suffix}", (token_hash,)
        )
        .fetchone()
    )


def claim_callback(
    connection: Connection, interaction_id: int, callback: int, window: dt.timedelta
) -> Interaction | None:
    """Records the interaction's one callback, if none was made and it is within `window` of
    its creation and not failed; None otherwise. One conditional UPDATE: of a callback and
    the failure sweep (or two callbacks) racing, exactly one wins."""
    return (
        connection.cursor(row_factory=_ROW)
        .execute(
            "UPDATE interactions SET response_type = %s, responded_at = now()"
            " WHERE id = %s AND response_type IS NULL AND failed_at IS NULL"
            " AND created_at > now() - %s::interval"
            f" RETURNING {_COLUMNS}",
            (callback, interaction_id, window),
        )
        .fetchone()
    )


def take_loading(connection: Connection, message_id: int, loading: int) -> bool:
    """Whether this caller completes the deferred channel answer `message_id`: its `loading`
    flag cleared by one conditional UPDATE, so of two follow-ups racing exactly one edits
    @original (the other is its own message). The edit that follows writes the flags again."""
    taken = connection.execute(
        "UPDATE messages SET flags = flags & ~%s WHERE id = %s AND flags & %s <> 0 RETURNING id",
        (loading, message_id, loading),
    ).fetchone()
    return taken is not None


def give_back_loading(connection: Connection, message_id: int, loading: int) -> None:
    """The deferred answer is still loading: its completing edit failed."""
    connection.execute(
        "UPDATE messages SET flags = flags | %s WHERE id = %s", (loading, message_id)
    )


def unclaim_callback(connection: Connection, interaction_id: int) -> None:
    """Takes back a callback whose channel message could not be written: as on Discord, a
    callback that fails acknowledges nothing (the bot may try again within the window, and
    the failure sweep tells the invoker if it does not)."""
    connection.execute(
        "UPDATE interactions SET response_type = NULL, responded_at = NULL"
        " WHERE id = %s AND original_id IS NULL",
        (interaction_id,),
    )


def fail_overdue(connection: Connection, window: dt.timedelta, limit: int) -> list[Interaction]:
    """Marks interactions left without a callback past `window` as failed; those it marked.
    SKIP LOCKED: a callback holding a row is not waited for (it decides that row itself)."""
    return (
        connection.cursor(row_factory=_ROW)
        .execute(
            "UPDATE interactions SET failed_at = now() WHERE id IN ("
            " SELECT id FROM interactions WHERE response_type IS NULL AND failed_at IS NULL"
            " AND created_at <= now() - %s::interval ORDER BY created_at LIMIT %s"
            " FOR UPDATE SKIP LOCKED)"
            " AND response_type IS NULL AND failed_at IS NULL"
            f" RETURNING {_COLUMNS}",
            (window, limit),
        )
        .fetchall()
    )


def delete_older_than(connection: Connection, retention: dt.timedelta, limit: int) -> int:
    """Deletes interactions (with their ephemeral messages) past `retention`; how many."""
    deleted = connection.execute(
        "DELETE FROM interactions WHERE id IN (SELECT id FROM interactions"
        " WHERE created_at < now() - %s::interval LIMIT %s)",
        (retention, limit),
    )
    return deleted.rowcount


def set_original(interaction_id: int, message_id: int, *, ephemeral: bool) -> Statement:
    return (
        "UPDATE interactions SET original_id = %s, original_ephemeral = %s WHERE id = %s",
        (message_id, ephemeral, interaction_id),
    )


def open_modal(interaction_id: int, modal_id: int, modal: dict[str, object]) -> Statement:
    return (
        "UPDATE interactions SET modal_id = %s, modal = %s WHERE id = %s",
        (modal_id, json_text(modal), interaction_id),
    )


def opened_modal(connection: Connection, modal_id: int) -> Interaction | None:
    """The interaction that opened modal `modal_id`, locked until the submission commits."""
    return (
        connection.cursor(row_factory=_ROW)
        .execute(f"SELECT {_COLUMNS} FROM interactions WHERE modal_id = %s FOR UPDATE", (modal_id,))
        .fetchone()
    )


def mark_modal_submitted(interaction_id: int) -> Statement:
    return ("UPDATE interactions SET modal_submitted = true WHERE id = %s", (interaction_id,))


def add_message(interaction_id: int, message_id: int, *, ephemeral: bool) -> Statement:
    return (
        "INSERT INTO interaction_messages (interaction_id, message_id, ephemeral)"
        " VALUES (%s, %s, %s)",
        (interaction_id, message_id, ephemeral),
    )


def owned_message(connection: Connection, interaction_id: int, message_id: int) -> bool | None:
    """Whether message `message_id` of this interaction is ephemeral; None if it is not one
    the interaction created."""
    row = connection.execute(
        "SELECT ephemeral FROM interaction_messages WHERE interaction_id = %s AND message_id = %s",
        (interaction_id, message_id),
    ).fetchone()
    return None if row is None else bool(row[0])


def forget_message(interaction_id: int, message_id: int) -> Statement:
    return (
        "DELETE FROM interaction_messages WHERE interaction_id = %s AND message_id = %s",
        (interaction_id, message_id),
    )


# Ephemeral messages.


def insert_ephemeral(message: EphemeralMessage) -> Statement:
    return (
        f"INSERT INTO ephemeral_messages ({_EPHEMERAL_COLUMNS})"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            message.id,
            message.interaction_id,
            message.viewer_id,
            message.channel_id,
            message.guild_id,
            message.author_id,
            message.type,
            message.content,
            message.flags,
            json_text(message.embeds),
            json_text(message.components),
            json_text(message.interaction_metadata),
            message.edited_at,
        ),
    )


def ephemeral_by_id(
    connection: Connection, message_id: int, *, lock: bool = False
) -> EphemeralMessage | None:
    suffix = " FOR UPDATE" if lock else ""
    return (
        connection.cursor(row_factory=class_row(EphemeralMessage))
        .execute(
            f"SELECT {_EPHEMERAL_COLUMNS} FROM ephemeral_messages WHERE id = %s{suffix}",
            (message_id,),
        )
        .fetchone()
    )


def update_ephemeral(message: EphemeralMessage) -> Statement:
    return (
        "UPDATE ephemeral_messages SET content = %s, flags = %s, embeds = %s, components = %s,"
        " edited_at = %s WHERE id = %s",
        (
            message.content,
            message.flags,
            json_text(message.embeds),
            json_text(message.components),
            message.edited_at,
            message.id,
        ),
    )


def delete_ephemeral(message_id: int) -> Statement:
    return ("DELETE FROM ephemeral_messages WHERE id = %s", (message_id,))

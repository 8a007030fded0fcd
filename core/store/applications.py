"""SQL for bot applications. Blocking functions on one connection, run through Database.run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.rows import class_row

from core.domain.applications import Application

if TYPE_CHECKING:
    from core.store.database import Connection

_COLUMNS = (
    "id, owner_id, name, description, icon, bot_public, bot_require_code_grant, flags, verify_key"
)


def insert_application(
    connection: Connection, application_id: int, owner_id: int, name: str, verify_key: str
) -> Application:
    row = (
        connection.cursor(row_factory=class_row(Application))
        .execute(
            "INSERT INTO applications (id, owner_id, name, verify_key) VALUES (%s, %s, %s, %s)"
            f" RETURNING {_COLUMNS}",
            (application_id, owner_id, name, verify_key),
        )
        .fetchone()
    )
    assert row is not None
    return row


def application_by_id(connection: Connection, application_id: int) -> Application | None:
    return (
        connection.cursor(row_factory=class_row(Application))
        .execute(f"SELECT {_COLUMNS} FROM applications WHERE id = %s", (application_id,))
        .fetchone()
    )


def bot_id_by_token_hash(connection: Connection, token_hash: bytes) -> int | None:
    row = connection.execute(
        "SELECT id FROM applications WHERE bot_token_hash = %s", (token_hash,)
    ).fetchone()
    return None if row is None else int(str(row[0]))


def set_bot_token_hash(connection: Connection, application_id: int, token_hash: bytes) -> None:
    connection.execute(
        "UPDATE applications SET bot_token_hash = %s WHERE id = %s", (token_hash, application_id)
    )


def update_application(
    connection: Connection, application_id: int, changes: dict[str, object]
) -> Application:
    """Sets the given columns (names from a fixed list in the service, never from a client)."""
    assignments = ", ".join(f"{column} = %s" for column in changes)
    row = (
        connection.cursor(row_factory=class_row(Application))
        .execute(
            f"UPDATE applications SET {assignments} WHERE id = %s RETURNING {_COLUMNS}",
            (*changes.values(), application_id),
        )
        .fetchone()
    )
    assert row is not None
    return row

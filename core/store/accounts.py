"""SQL for users, sessions, refresh tokens and registration codes. Blocking functions on one
connection, run through `Database.run` (one transaction per call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import class_row

from core.domain.users import Image, User
from core.errors import InvalidForm

if TYPE_CHECKING:
    import datetime as dt

    from core.store.database import Connection

USER_COLUMNS = (
    "id, username, global_name, avatar, banner, accent_color, bio, locale, flags,"
    " public_flags, bot, system, mfa_enabled, verified, email"
)

USERNAME_TAKEN = InvalidForm.one(
    "username",
    "USERNAME_ALREADY_TAKEN",
    "Username is unavailable. Try adding numbers, letters, underscores _ , or periods.",
)
EMAIL_TAKEN = InvalidForm.one("email", "EMAIL_ALREADY_REGISTERED", "Email is already registered.")


def raise_if_taken(error: psycopg.errors.UniqueViolation) -> None:
    """Turns a unique-index violation on users into the form error a client understands."""
    constraint = error.diag.constraint_name
    if constraint == "users_username_key":
        raise USERNAME_TAKEN from None
    if constraint == "users_email_key":
        raise EMAIL_TAKEN from None


def _write_user(connection: Connection, sql: str, params: tuple[object, ...]) -> User:
    """Runs an INSERT or UPDATE … RETURNING the user's columns, in a savepoint so the caller's
    transaction survives; InvalidForm when the username or email is taken."""
    try:
        with connection.transaction():
            row = connection.cursor(row_factory=class_row(User)).execute(sql, params).fetchone()
    except psycopg.errors.UniqueViolation as error:
        raise_if_taken(error)
        raise
    assert row is not None
    return row


def insert_user(
    connection: Connection,
    *,
    user_id: int,
    username: str,
    email: str | None,
    password_hash: str | None,
    global_name: str | None,
    bot: bool = False,
) -> User:
    """A new user; InvalidForm if the username or email is taken."""
    return _write_user(
        connection,
        "INSERT INTO users (id, username, email, password_hash, global_name, bot)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {USER_COLUMNS}",
        (user_id, username, email, password_hash, global_name, bot),
    )


def user_by_id(connection: Connection, user_id: int) -> User | None:
    return (
        connection.cursor(row_factory=class_row(User))
        .execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
        .fetchone()
    )


def user_id_by_username(connection: Connection, username: str) -> int | None:
    """Whose username this is (usernames are unique without regard to case)."""
    row = connection.execute(
        "SELECT id FROM users WHERE lower(username) = lower(%s)", (username,)
    ).fetchone()
    return None if row is None else int(str(row[0]))


@dataclass(frozen=True, slots=True)
class Credentials:
    user_id: int
    password_hash: str


def credentials_by_login(connection: Connection, login: str) -> Credentials | None:
    """A person's password hash, found by (normalised) email or username. Bots have none."""
    return (
        connection.cursor(row_factory=class_row(Credentials))
        .execute(
            "SELECT id AS user_id, password_hash FROM users"
            " WHERE (email = %s OR lower(username) = %s) AND password_hash IS NOT NULL"
            " LIMIT 1",
            (login, login),
        )
        .fetchone()
    )


def password_hash_of(connection: Connection, user_id: int) -> str | None:
    row = connection.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    return None if row is None else str(row[0]) if row[0] is not None else None


def set_password_hash(connection: Connection, user_id: int, password_hash: str) -> None:
    connection.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
    )


def update_profile(connection: Connection, user_id: int, changes: dict[str, object]) -> User:
    """Sets the given columns (names chosen by the caller from a fixed list, never by a client)."""
    assignments = ", ".join(f"{column} = %s" for column in changes)
    return _write_user(
        connection,
        f"UPDATE users SET {assignments} WHERE id = %s RETURNING {USER_COLUMNS}",
        (*changes.values(), user_id),
    )


def save_image(connection: Connection, user_id: int, image: Image) -> str:
    connection.execute(
        "INSERT INTO user_images (user_id, hash, content_type, data) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (user_id, image.hash, image.content_type, image.data),
    )
    return image.hash


# Sessions and refresh tokens.


def create_session(
    connection: Connection,
    *,
    session_id: int,
    user_id: int,
    refresh_hash: bytes,
    expires_at: dt.datetime,
) -> None:
    connection.execute("INSERT INTO sessions (id, user_id) VALUES (%s, %s)", (session_id, user_id))
    insert_refresh_token(connection, refresh_hash, session_id, expires_at)


def insert_refresh_token(
    connection: Connection, token_hash: bytes, session_id: int, expires_at: dt.datetime
) -> None:
    connection.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (token_hash) DO NOTHING",
        (token_hash, session_id, expires_at),
    )


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    session_id: int
    user_id: int
    expires_at: dt.datetime
    rotated_at: dt.datetime | None
    rotated_with_kid: str | None
    session_revoked_at: dt.datetime | None


def lock_refresh_token(connection: Connection, token_hash: bytes) -> RefreshRecord | None:
    """The refresh token's record, locked until the transaction ends, so two refreshes of one
    token run one after the other."""
    return (
        connection.cursor(row_factory=class_row(RefreshRecord))
        .execute(
            "SELECT r.session_id, s.user_id, r.expires_at, r.rotated_at, r.rotated_with_kid,"
            " s.revoked_at AS session_revoked_at"
            " FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id"
            " WHERE r.token_hash = %s FOR UPDATE OF r",
            (token_hash,),
        )
        .fetchone()
    )


def mark_rotated(
    connection: Connection, token_hash: bytes, rotated_at: dt.datetime, kid: str
) -> None:
    connection.execute(
        "UPDATE refresh_tokens SET rotated_at = %s, rotated_with_kid = %s WHERE token_hash = %s",
        (rotated_at, kid, token_hash),
    )


def session_of_refresh_token(connection: Connection, token_hash: bytes) -> int | None:
    row = connection.execute(
        "SELECT session_id FROM refresh_tokens WHERE token_hash = %s", (token_hash,)
    ).fetchone()
    return None if row is None else int(str(row[0]))


def revoke_session(connection: Connection, session_id: int) -> None:
    connection.execute(
        "UPDATE sessions SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
        (session_id,),
    )


def revoke_user_sessions(
    connection: Connection, user_id: int, keep_session_id: int | None = None
) -> list[int]:
    """Revokes every live session of the user but `keep_session_id`; returns their ids."""
    rows = connection.execute(
        "UPDATE sessions SET revoked_at = now()"
        " WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s RETURNING id",
        (user_id, keep_session_id),
    ).fetchall()
    return [int(str(session_id)) for (session_id,) in rows]


def sessions_revoked_since(connection: Connection, since: dt.datetime) -> list[int]:
    rows = connection.execute("SELECT id FROM sessions WHERE revoked_at >= %s", (since,)).fetchall()
    return [int(str(session_id)) for (session_id,) in rows]


# Registration codes.


def insert_registration_code(
    connection: Connection, code_hash: bytes, uses: int, expires_at: dt.datetime
) -> None:
    connection.execute(
        "INSERT INTO registration_codes (code_hash, uses_left, expires_at) VALUES (%s, %s, %s)",
        (code_hash, uses, expires_at),
    )


def take_registration_code(connection: Connection, code_hash: bytes) -> bool:
    """Uses up one use of a live code; False if it is unknown, used up or expired."""
    row = connection.execute(
        "UPDATE registration_codes SET uses_left = uses_left - 1"
        " WHERE code_hash = %s AND uses_left > 0 AND expires_at > now() RETURNING uses_left",
        (code_hash,),
    ).fetchone()
    return row is not None

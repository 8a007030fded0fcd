"""SQL for messages, their edit history, pins and reactions. Blocking functions on one
connection. A page of messages is read with a fixed number of queries, whatever its length."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from psycopg.rows import args_row, class_row

from core.domain.attachments import Attachment
from core.domain.messages import Message, MessageView, Reaction, webhook_author
from core.domain.users import User
from core.store.accounts import USER_COLUMNS
from core.store.database import id_array, json_text
from core.store.members import PEOPLE_SELECT, person

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Sequence

    from psycopg import Cursor

    from core.store.database import Connection, Statement

_COLUMNS = (
    "id, channel_id, guild_id, author_id, type, content, flags, tts, mention_everyone,"
    " mention_ids, mention_role_ids, embeds, nonce, referenced_message_id, pinned_at, edited_at,"
    " components, webhook_id, application_id, interaction_metadata, author_name, author_avatar"
)
# Rows become Messages positionally (a third of the cost of by name), so the columns above
# are Message's fields in order.
assert _COLUMNS.split(", ") == [field.name for field in fields(Message)]
_MESSAGE_ROW = args_row(Message)


def insert_message(message: Message) -> Statement:
    return (
        f"INSERT INTO messages ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(fields(Message)))})",
        (
            message.id,
            message.channel_id,
            message.guild_id,
            message.author_id,
            message.type,
            message.content,
            message.flags,
            message.tts,
            message.mention_everyone,
            message.mention_ids,
            message.mention_role_ids,
            json_text(message.embeds),
            message.nonce,
            message.referenced_message_id,
            message.pinned_at,
            message.edited_at,
            json_text(message.components),
            message.webhook_id,
            message.application_id,
            None
            if message.interaction_metadata is None
            else json_text(message.interaction_metadata),
            message.author_name,
            message.author_avatar,
        ),
    )


def message_in(
    connection: Connection, channel_id: int, message_id: int, *, lock: bool = False
) -> Message | None:
    suffix = " FOR UPDATE" if lock else ""
    return (
        connection.cursor(row_factory=_MESSAGE_ROW)
        .execute(
            f"SELECT {_COLUMNS} FROM messages WHERE channel_id = %s AND id = %s{suffix}",
            (channel_id, message_id),
        )
        .fetchone()
    )


def claim_nonce(
    connection: Connection,
    channel_id: int,
    author_id: int,
    nonce: str,
    message_id: int,
    window: dt.timedelta,
) -> int | None:
    """Claims `nonce` for `message_id`, which must then be written in the same transaction.
    None if claimed; else the id of the message the nonce created within `window`. A send
    meeting another's uncommitted claim waits for that transaction (the primary key's lock)."""
    for _ in range(3):  # the winner's row can vanish between the two statements (deleted)
        claimed = connection.execute(
            "INSERT INTO message_nonces (channel_id, author_id, nonce, message_id)"
            " VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (channel_id, author_id, nonce) DO UPDATE"
            " SET message_id = EXCLUDED.message_id, created_at = now()"
            " WHERE message_nonces.created_at <= now() - %s::interval"
            " RETURNING message_id",
            (channel_id, author_id, nonce, message_id, window),
        ).fetchone()
        if claimed is not None:
            return None
        earlier = connection.execute(
            "SELECT message_id FROM message_nonces"
            " WHERE channel_id = %s AND author_id = %s AND nonce = %s",
            (channel_id, author_id, nonce),
        ).fetchone()
        if earlier is not None:
            return int(str(earlier[0]))
    raise RuntimeError("a nonce's row kept changing under its claim")


@dataclass(frozen=True, slots=True)
class PageQuery:
    """A history page asked for and not read yet: inside a pipeline, its rows come back in
    the round trip of whatever is read next (the caller's access check)."""

    newest_first: list[Cursor[Message]]
    oldest_first: list[Cursor[Message]]

    def rows(self) -> list[Message]:
        """The page, newest first, like Discord's."""
        newer = [m for cursor in self.oldest_first for m in cursor.fetchall()]
        return [*reversed(newer), *(m for c in self.newest_first for m in c.fetchall())]


def ask_page(
    connection: Connection,
    channel_id: int,
    *,
    before: int | None,
    after: int | None,
    around: int | None,
    limit: int,
) -> PageQuery:
    # Binary: fifty rows of arrays and timestamps load in C, not through text parsers.
    def cursor() -> Cursor[Message]:
        return connection.cursor(row_factory=_MESSAGE_ROW, binary=True)

    select = f"SELECT {_COLUMNS} FROM messages WHERE channel_id = %s"
    if around is not None:
        older = cursor().execute(
            f"{select} AND id <= %s ORDER BY id DESC LIMIT %s",
            (channel_id, around, (limit + 1) // 2),
        )
        newer = cursor().execute(
            f"{select} AND id > %s ORDER BY id LIMIT %s", (channel_id, around, limit // 2)
        )
        return PageQuery([older], [newer])
    if after is not None:
        rows = cursor().execute(
            f"{select} AND id > %s ORDER BY id LIMIT %s", (channel_id, after, limit)
        )
        return PageQuery([], [rows])
    if before is not None:
        rows = cursor().execute(
            f"{select} AND id < %s ORDER BY id DESC LIMIT %s", (channel_id, before, limit)
        )
        return PageQuery([rows], [])
    return PageQuery(
        [cursor().execute(f"{select} ORDER BY id DESC LIMIT %s", (channel_id, limit))], []
    )


_ATTACHMENT_COLUMNS = (
    "id, message_id, channel_id, filename, description, content_type, size, object_key"
)


def insert_attachments(attachments: Sequence[Attachment]) -> list[Statement]:
    return [
        (
            f"INSERT INTO attachments ({_ATTACHMENT_COLUMNS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                a.id,
                a.message_id,
                a.channel_id,
                a.filename,
                a.description,
                a.content_type,
                a.size,
                a.object_key,
            ),
        )
        for a in attachments
    ]


def attachment_in(connection: Connection, channel_id: int, attachment_id: int) -> Attachment | None:
    return (
        connection.cursor(row_factory=class_row(Attachment))
        .execute(
            f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE channel_id = %s AND id = %s",
            (channel_id, attachment_id),
        )
        .fetchone()
    )


def views(
    connection: Connection,
    messages: Sequence[Message],
    viewer_id: int,
    link: Callable[[Attachment], str],
    *,
    new: Sequence[Attachment] | None = None,
    people: Sequence[tuple[object, ...]] = (),
) -> list[MessageView]:
    """Each message with its author, member, mentions, reactions, attachments (with links made
    by `link`) and the message it replies to, in one round trip (two for replies).
    `new`: the messages were written in this transaction, with these attachments and no
    reactions yet, so neither is read back. `people`: PEOPLE_SELECT rows read already (a new
    message's sender); only the others are read."""
    if not messages:
        return []
    referenced_ids = {m.referenced_message_id for m in messages if m.referenced_message_id}
    referenced = (
        {
            m.id: m
            for m in connection.cursor(row_factory=_MESSAGE_ROW)
            .execute(
                f"SELECT {_COLUMNS} FROM messages WHERE id = ANY(%s::bigint[])",
                (id_array(referenced_ids),),
            )
            .fetchall()
        }
        if referenced_ids
        else {}
    )
    everything = [*messages, *referenced.values()]
    # A webhook's message shows the webhook as its author: no user to read.
    user_ids = {m.author_id for m in everything if m.author_name is None}
    user_ids |= {u for m in everything for u in m.mention_ids}
    user_ids -= {int(str(row[0])) for row in people}
    ids = [m.id for m in everything]
    if new is not None and not user_ids:  # nothing left to read
        more_people, reactions, files = None, None, None
    else:
        with connection.pipeline():
            more_people = connection.execute(
                f"{PEOPLE_SELECT} WHERE u.id = ANY(%s::bigint[])",
                (messages[0].guild_id, id_array(user_ids)),
            )
            reactions = None if new is not None else _reactions(connection, ids, viewer_id)
            files = (
                None
                if new is not None
                else connection.cursor(row_factory=class_row(Attachment)).execute(
                    f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments"
                    " WHERE message_id = ANY(%s::bigint[]) ORDER BY id",
                    (id_array(ids),),
                )
            )
    users: dict[int, dict[str, object]] = {}
    members: dict[int, dict[str, object]] = {}
    rows = [*people, *(more_people.fetchall() if more_people is not None else ())]
    for user, member in (person(row) for row in rows):
        users[user.id] = user.to_wire()
        if member is not None:
            members[user.id] = {k: v for k, v in member.to_wire().items() if k != "user"}
    found_reactions = {} if reactions is None else _reactions_by_message(reactions.fetchall())
    found_files: dict[int, list[Attachment]] = {}
    for attachment in files.fetchall() if files is not None else new or []:
        found_files.setdefault(attachment.message_id, []).append(attachment)

    def view(message: Message) -> MessageView:
        # (Fifty of these a page: most messages mention no one and carry no files.)
        files = found_files.get(message.id)
        by_webhook = message.author_name is not None
        return MessageView(
            message=message,
            author=webhook_author(message)
            if by_webhook
            else users.get(message.author_id) or {"id": str(message.author_id)},
            member=None if by_webhook else members.get(message.author_id),
            mentions=[users[u] for u in message.mention_ids if u in users]
            if message.mention_ids
            else [],
            reactions=found_reactions.get(message.id) or [],
            attachments=[a.to_wire(link(a)) for a in files] if files else [],
        )

    result = []
    for message in messages:
        shown = view(message)
        if message.referenced_message_id is not None:
            target = referenced.get(message.referenced_message_id)
            shown.referenced = None if target is None else view(target)
        result.append(shown)
    return result


def _reactions(connection: Connection, message_ids: list[int], viewer_id: int) -> Cursor:
    return connection.execute(
        "SELECT message_id, emoji, count(*), bool_or(user_id = %s), min(created_at) FROM reactions"
        " WHERE message_id = ANY(%s::bigint[]) GROUP BY message_id, emoji"
        " ORDER BY message_id, min(created_at)",
        (viewer_id, id_array(message_ids)),
    )


def _reactions_by_message(rows: list[tuple[object, ...]]) -> dict[int, list[Reaction]]:
    found: dict[int, list[Reaction]] = {}
    for message_id, emoji, count, me, _ in rows:
        found.setdefault(int(str(message_id)), []).append(
            Reaction(str(emoji), int(str(count)), bool(me))
        )
    return found


def edit_message(
    connection: Connection, message: Message, changes: dict[str, object], edited_at: dt.datetime
) -> None:
    """Keeps the current version in the edit history, then applies `changes`."""
    connection.execute(
        "INSERT INTO message_edits (message_id, content, embeds) VALUES (%s, %s, %s)",
        (message.id, message.content, json_text(message.embeds)),
    )
    allowed = {
        "content",
        "embeds",
        "flags",
        "mention_everyone",
        "mention_ids",
        "mention_role_ids",
        "components",
    }
    assert set(changes) <= allowed, set(changes) - allowed
    values = [json_text(v) if k in ("embeds", "components") else v for k, v in changes.items()]
    assignments = ", ".join(f"{column} = %s" for column in changes)
    connection.execute(
        f"UPDATE messages SET {assignments}, edited_at = %s WHERE id = %s",
        (*values, edited_at, message.id),
    )


def edit_history(connection: Connection, message_id: int) -> list[tuple[str, object]]:
    rows = connection.execute(
        "SELECT content, embeds FROM message_edits WHERE message_id = %s ORDER BY replaced_at",
        (message_id,),
    ).fetchall()
    return [(str(content), embeds) for content, embeds in rows]


def delete_messages(
    connection: Connection, channel_id: int, message_ids: Sequence[int]
) -> tuple[list[int], list[str]]:
    """Deletes the messages; returns their ids and the object keys of their files, which the
    caller deletes from the object store once this transaction has committed."""
    keys = connection.execute(
        "SELECT object_key FROM attachments"
        " WHERE channel_id = %s AND message_id = ANY(%s::bigint[])",
        (channel_id, id_array(message_ids)),
    ).fetchall()
    rows = connection.execute(
        "DELETE FROM messages WHERE channel_id = %s AND id = ANY(%s::bigint[]) RETURNING id",
        (channel_id, id_array(message_ids)),
    ).fetchall()
    return [int(str(message_id)) for (message_id,) in rows], [str(key) for (key,) in keys]


def set_pinned(connection: Connection, message_id: int, pinned_at: dt.datetime | None) -> None:
    connection.execute("UPDATE messages SET pinned_at = %s WHERE id = %s", (pinned_at, message_id))


def pinned(connection: Connection, channel_id: int) -> list[Message]:
    return (
        connection.cursor(row_factory=_MESSAGE_ROW)
        .execute(
            f"SELECT {_COLUMNS} FROM messages WHERE channel_id = %s AND pinned_at IS NOT NULL"
            " ORDER BY pinned_at DESC",
            (channel_id,),
        )
        .fetchall()
    )


# Reactions.


def add_reaction(connection: Connection, message_id: int, emoji: str, user_id: int) -> bool:
    """False when the user had already reacted with this emoji."""
    row = connection.execute(
        "INSERT INTO reactions (message_id, emoji, user_id) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING user_id",
        (message_id, emoji, user_id),
    ).fetchone()
    return row is not None


def has_reaction(connection: Connection, message_id: int, emoji: str) -> bool:
    row = connection.execute(
        "SELECT 1 FROM reactions WHERE message_id = %s AND emoji = %s LIMIT 1", (message_id, emoji)
    ).fetchone()
    return row is not None


def remove_reactions(
    connection: Connection, message_id: int, *, emoji: str | None = None, user_id: int | None = None
) -> int:
    """Removes the message's reactions, narrowed to one emoji and/or one user; returns how many."""
    rows = connection.execute(
        "DELETE FROM reactions WHERE message_id = %s AND (%s::text IS NULL OR emoji = %s)"
        " AND (%s::bigint IS NULL OR user_id = %s) RETURNING 1",
        (message_id, emoji, emoji, user_id, user_id),
    ).fetchall()
    return len(rows)


def reactors(
    connection: Connection, message_id: int, emoji: str, *, after: int, limit: int
) -> list[User]:
    return (
        connection.cursor(row_factory=class_row(User))
        .execute(
            f"SELECT {', '.join('u.' + c.strip() for c in USER_COLUMNS.split(','))}"
            " FROM reactions r JOIN users u ON u.id = r.user_id"
            " WHERE r.message_id = %s AND r.emoji = %s AND r.user_id > %s"
            " ORDER BY r.user_id LIMIT %s",
            (message_id, emoji, after, limit),
        )
        .fetchall()
    )


def known_user_ids(connection: Connection, user_ids: Sequence[int]) -> set[int]:
    rows = connection.execute(
        "SELECT id FROM users WHERE id = ANY(%s::bigint[])", (id_array(user_ids),)
    ).fetchall()
    return {int(str(user_id)) for (user_id,) in rows}


# Search.

# total_results is exact up to this, and this beyond it: counting 10,000 of a common word's
# matches took 29 ms over a million messages, 1,000 took 3 ms.
SEARCH_COUNT_CAP = 1_000


def search(
    connection: Connection,
    guild_id: int,
    channel_ids: Sequence[int],
    *,
    content: str | None,
    author_ids: Sequence[int],
    mentions: Sequence[int],
    has: Sequence[str],
    min_id: int | None,
    max_id: int | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Message]]:
    """Messages of `channel_ids` matching every filter, newest first, and how many match.
    Content matches whole words (PostgreSQL full-text search on the GIN index)."""
    where = ["guild_id = %s", "channel_id = ANY(%s::bigint[])"]
    params: list[object] = [guild_id, id_array(channel_ids)]
    if content:
        where.append("search @@ plainto_tsquery('simple', %s)")
        params.append(content)
    if author_ids:
        where.append("author_id = ANY(%s::bigint[])")
        params.append(id_array(author_ids))
    if mentions:
        where.append("mention_ids && %s::bigint[]")
        params.append(id_array(mentions))
    if min_id is not None:
        where.append("id > %s")
        params.append(min_id)
    if max_id is not None:
        where.append("id < %s")
        params.append(max_id)
    conditions = {
        "link": "content ~ 'https?://'",
        "embed": "jsonb_array_length(embeds) > 0",
        "file": "EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = messages.id)",
        "image": "EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = messages.id"
        " AND a.content_type LIKE 'image/%%')",
    }
    where += [conditions[kind] for kind in has]
    clause = " AND ".join(where)
    total_row = connection.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM messages WHERE {clause}"
        f" LIMIT {SEARCH_COUNT_CAP}) found",
        params,
    ).fetchone()
    assert total_row is not None
    total = int(str(total_row[0]))
    # The planner cannot tell a rare word from a common one (it guesses 0.5 % for any word it
    # has no statistics on), but the count just did: a rare word's few matches come fastest
    # from the GIN index, then sorted; a common word's newest matches come fastest walking
    # the messages newest first (a unique token took 446 ms that way, 0.7 ms from GIN).
    plan = "enable_indexscan" if total < SEARCH_COUNT_CAP else "enable_bitmapscan"
    with connection.pipeline():
        connection.execute(f"SET LOCAL {plan} = off")
        found = connection.cursor(row_factory=_MESSAGE_ROW).execute(
            f"SELECT {_COLUMNS} FROM messages WHERE {clause} ORDER BY id DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
    return total, found.fetchall()

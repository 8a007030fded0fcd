"""Messages: send, read history, edit, delete, pin, search, type. (Reactions: core/reactions.py.)"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from core import events
from core.access import MESSAGE_CHANNELS, load_access, load_message_access
from core.domain import messages as rules
from core.domain.attachments import (
    Attachment,
    Upload,
    check_uploads,
    content_type,
    link_is_valid,
    signed_url,
)
from core.domain.messages import AllowedMentions, Message, MessageType
from core.domain.permissions import Permission
from core.domain.timestamps import iso_or_none
from core.errors import (
    CannotMessageUser,
    FormCheck,
    InvalidForm,
    MaxPins,
    MissingPermissions,
    NotTheAuthor,
    TooOldToBulkDelete,
    UnknownMessage,
)
from core.events import EventName
from core.journal import Journal
from core.store import messages as store
from core.store.objects import ObjectStoreUnavailable

if TYPE_CHECKING:
    from core.access import AccessCache, MessageAccess
    from core.domain.tokens import JwtKeys
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.store.objects import ObjectStore

_log = logging.getLogger(__name__)

_SUPPRESS_EMBEDS = 1 << 2  # the only message flag a client may set


@dataclass(frozen=True, slots=True)
class SearchQuery:
    content: str | None = None
    author_ids: tuple[int, ...] = ()
    channel_ids: tuple[int, ...] = ()
    mentions: tuple[int, ...] = ()
    has: tuple[str, ...] = ()
    min_id: int | None = None
    max_id: int | None = None
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Draft:
    """A message as a client sends it."""

    content: str | None = None
    embeds: list[dict[str, object]] | None = None
    tts: bool = False
    nonce: str | int | None = None
    enforce_nonce: bool = False
    reply_to: int | None = None
    reply_channel_id: int | None = None
    fail_if_not_exists: bool = True
    allowed_mentions: AllowedMentions | None = None
    flags: int = 0
    uploads: tuple[Upload, ...] = ()


def existing_message(
    connection: Connection, channel_id: int, message_id: int, *, lock: bool = False
) -> Message:
    message = store.message_in(connection, channel_id, message_id, lock=lock)
    if message is None:
        raise UnknownMessage(str(message_id))
    return message


class Messages:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        objects: ObjectStore,
        keys: JwtKeys,
        public_url: str,
        max_upload_bytes: int,
    ) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._access = access
        self._journal = Journal(snowflakes)
        self._objects = objects
        self._keys = keys
        self._public_url = public_url
        self._max_upload_bytes = max_upload_bytes

    def _link(self, attachment: Attachment) -> str:
        secret = self._keys.get(self._keys.signing_kid)
        assert secret is not None  # the signing key is always listed
        return signed_url(self._public_url, secret, attachment, int(time.time()))

    def _view(self, connection: Connection, message: Message, viewer_id: int) -> dict[str, object]:
        return store.views(connection, [message], viewer_id, self._link)[0].to_wire(nonce=True)

    def wire(self, connection: Connection, message: Message, viewer_id: int) -> dict[str, object]:
        """A stored message as `viewer_id` sees it: what an interaction shows its bot."""
        return store.views(connection, [message], viewer_id, self._link)[0].to_wire()

    def link_is_valid(self, channel_id: int, attachment_id: int, ex: str, hm: str) -> bool:
        """Whether a link to an attachment is one this server signed and has not expired."""
        secrets = [secret for _, secret in self._keys.keys]
        return link_is_valid(secrets, channel_id, attachment_id, ex, hm, int(time.time()))

    async def attachment(
        self, channel_id: int, attachment_id: int
    ) -> tuple[Attachment, bytes] | None:
        """The attachment and its bytes, for a link already checked with link_is_valid."""
        found = await self._db.run(lambda c: store.attachment_in(c, channel_id, attachment_id))
        if found is None:
            return None
        data = await self._objects.get(found.object_key)
        return None if data is None else (found, data)

    async def send(self, user_id: int, channel_id: int, draft: Draft) -> dict[str, object]:
        check = FormCheck()
        rules.check_message(check, draft.content, draft.embeds, needs_body=not draft.uploads)
        check_uploads(check, list(draft.uploads), self._max_upload_bytes)
        nonce = rules.check_nonce(check, draft.nonce)
        if draft.allowed_mentions is not None:
            rules.check_allowed_mentions(check, draft.allowed_mentions)
        if draft.flags & ~_SUPPRESS_EMBEDS:
            check.fail(
                "flags", "MESSAGE_FLAGS_INVALID", "Only SUPPRESS_EMBEDS (1 << 2) can be set."
            )
        if draft.enforce_nonce and nonce is None:
            check.fail("nonce", "BASE_TYPE_REQUIRED", "enforce_nonce needs a nonce.")
        if draft.reply_channel_id is not None and draft.reply_channel_id != channel_id:
            check.fail(
                "message_reference",
                "MESSAGE_REFERENCE_INVALID_CHANNEL",
                "A reply must be in the same channel.",
            )
        check.done()
        message_id = self._snowflakes.next_id()
        attachments = [
            Attachment(
                id=attachment_id,
                message_id=message_id,
                channel_id=channel_id,
                filename=upload.filename,
                description=upload.description,
                content_type=content_type(upload),
                size=len(upload.data),
                object_key=f"attachments/{channel_id}/{attachment_id}",
            )
            for upload, attachment_id in zip(
                draft.uploads, self._snowflakes.next_ids(len(draft.uploads)), strict=True
            )
        ]

        def check_access(connection: Connection) -> MessageAccess:
            found = load_message_access(self._access, connection, channel_id, user_id, sender=True)
            if found.blocked:
                raise CannotMessageUser(str(channel_id))
            found.require(Permission.SEND_MESSAGES)
            if draft.tts:
                found.require(Permission.SEND_TTS_MESSAGES)
            if attachments:
                found.require(Permission.ATTACH_FILES)
            return found

        enforce_nonce = nonce if draft.enforce_nonce else None
        retried: list[int] = []  # the earlier message, when this send is a client's retry

        def write(connection: Connection) -> dict[str, object]:
            found = check_access(connection)
            if enforce_nonce is not None:
                # The first statement of the transaction: a simultaneous send with this nonce
                # waits here for ours to commit, then answers our message (issue #18).
                earlier = store.claim_nonce(
                    connection, channel_id, user_id, enforce_nonce, message_id, rules.NONCE_WINDOW
                )
                if earlier is not None:
                    retried.append(earlier)
                    return self._view(
                        connection, existing_message(connection, channel_id, earlier), user_id
                    )
            replied = None
            if draft.reply_to is not None:
                replied = store.message_in(connection, channel_id, draft.reply_to)
                if replied is None and draft.fail_if_not_exists:
                    raise InvalidForm.one(
                        "message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message"
                    )
            content = draft.content or ""
            mentions = rules.parse_mentions(
                content,
                draft.allowed_mentions,
                may_mention_everyone=bool(found.permissions & Permission.MENTION_EVERYONE),
            )
            known = (
                store.known_user_ids(connection, mentions.user_ids) if mentions.user_ids else set()
            )
            user_ids = [u for u in mentions.user_ids if u in known]
            replied_user = draft.allowed_mentions is None or draft.allowed_mentions.replied_user
            if replied is not None and replied_user and replied.author_id not in user_ids:
                user_ids.append(replied.author_id)
            roles = {role.id: role for role in found.roles}
            role_ids = [
                r
                for r in mentions.role_ids
                if r in roles
                and r != found.guild_id
                and (roles[r].mentionable or found.permissions & Permission.MENTION_EVERYONE)
            ]
            message = Message(
                id=message_id,
                channel_id=channel_id,
                guild_id=found.guild_id,
                author_id=user_id,
                type=MessageType.REPLY if replied else MessageType.DEFAULT,
                content=content,
                flags=draft.flags,
                tts=draft.tts,
                mention_everyone=mentions.everyone,
                mention_ids=user_ids,
                mention_role_ids=role_ids,
                embeds=draft.embeds or [],
                nonce=nonce,
                referenced_message_id=replied.id if replied else None,
                pinned_at=None,
                edited_at=None,
            )
            sender = () if found.sender is None else (found.sender,)
            wire = store.views(
                connection, [message], user_id, self._link, new=attachments, people=sender
            )[0].to_wire(nonce=True)
            # The checks above read what has committed, as a transaction's statements would at
            # READ COMMITTED; the writes are one statement, atomic by itself.
            self._journal.emit(
                connection,
                events.in_channel(EventName.MESSAGE_CREATE, found.guild_id, channel_id, wire),
                along=[store.insert_message(message), *store.insert_attachments(attachments)],
            )
            return wire

        # A claimed nonce and its message commit together, so that send is one transaction.
        run = self._db.autocommit if enforce_nonce is None else self._db.run
        if not attachments:
            return await run(write)
        # Files are written only for a sender who may attach them, and removed again if the
        # message is not stored after all: a refused message leaves no file behind.
        await self._db.run(check_access)
        for attachment, upload in zip(attachments, draft.uploads, strict=True):
            await self._objects.put(attachment.object_key, upload.data)
        stored = False
        try:
            wire = await run(write)
            stored = not retried  # a retry answers the first message, with its own files
            return wire
        finally:
            if not stored:
                await self._delete_files([a.object_key for a in attachments])

    async def history(
        self,
        user_id: int,
        channel_id: int,
        *,
        before: int | None,
        after: int | None,
        around: int | None,
        limit: int,
    ) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            # The page is asked for first and read only once access is granted: both come
            # back in the one round trip of the access check.
            with connection.pipeline():
                asked = store.ask_page(
                    connection, channel_id, before=before, after=after, around=around, limit=limit
                )
                found = load_message_access(self._access, connection, channel_id, user_id)
                found.require(Permission.READ_MESSAGE_HISTORY)
                page = asked.rows()
            return [view.to_wire() for view in store.views(connection, page, user_id, self._link)]

        return await self._db.autocommit(read)

    async def get(self, user_id: int, channel_id: int, message_id: int) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.READ_MESSAGE_HISTORY)
            return store.views(
                connection,
                [existing_message(connection, channel_id, message_id)],
                user_id,
                self._link,
            )[0].to_wire()

        return await self._db.autocommit(read)

    async def edit(
        self,
        user_id: int,
        channel_id: int,
        message_id: int,
        *,
        given: frozenset[str],
        content: str | None,
        embeds: list[dict[str, object]] | None,
        flags: int | None,
        allowed_mentions: AllowedMentions | None = None,
    ) -> dict[str, object]:
        check = FormCheck()
        rules.check_message(check, content, embeds, needs_body=False)
        if flags is not None and flags & ~_SUPPRESS_EMBEDS:
            check.fail(
                "flags", "MESSAGE_FLAGS_INVALID", "Only SUPPRESS_EMBEDS (1 << 2) can be set."
            )
        check.done()

        def write(connection: Connection) -> dict[str, object]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            message = existing_message(connection, channel_id, message_id, lock=True)
            changes: dict[str, object] = {}
            if given & {"content", "embeds"}:
                if message.author_id != user_id:
                    raise NotTheAuthor(str(message_id))
                if "content" in given:
                    text = content or ""
                    mentions = rules.parse_mentions(
                        text,
                        allowed_mentions,
                        may_mention_everyone=bool(found.permissions & Permission.MENTION_EVERYONE),
                    )
                    known = (
                        store.known_user_ids(connection, mentions.user_ids)
                        if mentions.user_ids
                        else set()
                    )
                    changes |= {
                        "content": text,
                        "mention_everyone": mentions.everyone,
                        "mention_ids": [u for u in mentions.user_ids if u in known],
                    }
                if "embeds" in given:
                    changes["embeds"] = embeds or []
                new_content = str(changes.get("content", message.content))
                if not new_content.strip() and not changes.get("embeds", message.embeds):
                    raise InvalidForm.one(
                        "content", "MESSAGE_EMPTY", "Cannot send an empty message"
                    )
            if "flags" in given and flags is not None:
                if message.author_id != user_id:
                    found.require(Permission.MANAGE_MESSAGES)
                changes["flags"] = flags
            if changes:
                store.edit_message(connection, message, changes, dt.datetime.now(dt.UTC))
            edited = existing_message(connection, channel_id, message_id)
            wire = store.views(connection, [edited], user_id, self._link)[0].to_wire()
            if changes:
                self._journal.emit(
                    connection,
                    events.in_channel(EventName.MESSAGE_UPDATE, edited.guild_id, channel_id, wire),
                )
            return wire

        return await self._db.run(write)

    async def delete(self, user_id: int, channel_id: int, message_id: int) -> None:
        def write(connection: Connection) -> list[str]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            message = existing_message(connection, channel_id, message_id, lock=True)
            if message.author_id != user_id:
                found.require(Permission.MANAGE_MESSAGES)
            _, keys = store.delete_messages(connection, channel_id, [message_id])
            self._journal.emit(
                connection,
                events.in_channel(
                    EventName.MESSAGE_DELETE, message.guild_id, channel_id, {"id": str(message_id)}
                ),
            )
            return keys

        await self._delete_files(await self._db.run(write))

    async def _delete_files(self, keys: list[str]) -> None:
        """Removes files whose message is gone or was never stored, after the database has
        settled. A crash or an unavailable store between the two leaves files without a
        message (logged), never a message without its files."""
        if not keys:
            return
        with trio.CancelScope(shield=True):
            try:
                await self._objects.delete(keys)
            except ObjectStoreUnavailable as error:
                _log.warning(
                    "attachment files left behind", extra={"files": len(keys), "reason": str(error)}
                )

    async def bulk_delete(self, user_id: int, channel_id: int, message_ids: list[int]) -> None:
        check = FormCheck()
        if not rules.BULK_DELETE_MIN <= len(message_ids) <= rules.BULK_DELETE_MAX:
            check.fail(
                "messages",
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {rules.BULK_DELETE_MIN} and {rules.BULK_DELETE_MAX} in length.",
            )
        if len(set(message_ids)) != len(message_ids):
            check.fail("messages", "BASE_TYPE_DUPLICATES", "Must not contain duplicates.")
        check.done()
        oldest_allowed = dt.datetime.now(dt.UTC) - rules.BULK_DELETE_MAX_AGE
        if any(rules.created_at(message_id) < oldest_allowed for message_id in message_ids):
            raise TooOldToBulkDelete(str(channel_id))

        def write(connection: Connection) -> list[str]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.MANAGE_MESSAGES)
            deleted, keys = store.delete_messages(connection, channel_id, message_ids)
            if deleted:
                self._journal.emit(
                    connection,
                    events.in_channel(
                        EventName.MESSAGE_DELETE_BULK,
                        found.guild_id,
                        channel_id,
                        {"ids": [str(i) for i in sorted(deleted)]},
                    ),
                )
            return keys

        await self._delete_files(await self._db.run(write))

    # Pins.

    async def pins(
        self, user_id: int, channel_id: int
    ) -> list[tuple[str | None, dict[str, object]]]:
        """The channel's pinned messages, most recently pinned first, with when each was pinned."""

        def read(connection: Connection) -> list[tuple[str | None, dict[str, object]]]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.READ_MESSAGE_HISTORY)
            pinned = store.pinned(connection, channel_id)
            return [
                (iso_or_none(view.message.pinned_at), view.to_wire())
                for view in store.views(connection, pinned, user_id, self._link)
            ]

        return await self._db.autocommit(read)

    async def set_pin(self, user_id: int, channel_id: int, message_id: int, *, pin: bool) -> None:
        def write(connection: Connection) -> None:
            found = load_message_access(self._access, connection, channel_id, user_id, lock=True)
            if not found.permissions & (Permission.MANAGE_MESSAGES | Permission.PIN_MESSAGES):
                raise MissingPermissions("PIN_MESSAGES")
            message = existing_message(connection, channel_id, message_id, lock=True)
            if pin == (message.pinned_at is not None):
                return
            if pin and len(store.pinned(connection, channel_id)) >= rules.MAX_PINS:
                raise MaxPins(str(channel_id))
            now = dt.datetime.now(dt.UTC)
            store.set_pinned(connection, message_id, now if pin else None)
            latest = store.pinned(connection, channel_id)
            self._journal.emit(
                connection,
                events.in_channel(
                    EventName.CHANNEL_PINS_UPDATE,
                    found.guild_id,
                    channel_id,
                    {"last_pin_timestamp": iso_or_none(latest[0].pinned_at) if latest else None},
                ),
            )

        await self._db.run(write)

    async def search(self, user_id: int, guild_id: int, query: SearchQuery) -> dict[str, object]:
        """Discord's guild message search, over only the channels the caller can read."""

        def read(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id)
            readable = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY
            channel_ids = [
                channel_id
                for channel_id, c in access.snapshot.channels.items()
                if c.channel.type in MESSAGE_CHANNELS
                and access.in_channel(channel_id) & readable == readable
                and (not query.channel_ids or channel_id in query.channel_ids)
            ]
            total, found = store.search(
                connection,
                guild_id,
                channel_ids,
                content=query.content,
                author_ids=query.author_ids,
                mentions=query.mentions,
                has=query.has,
                min_id=query.min_id,
                max_id=query.max_id,
                limit=query.limit,
                offset=query.offset,
            )
            views = store.views(connection, found, user_id, self._link) if found else []
            # Discord nests each hit in a list (once it carried context messages around it).
            return {"total_results": total, "messages": [[view.to_wire()] for view in views]}

        return await self._db.autocommit(read)

    async def typing(self, user_id: int, channel_id: int) -> None:
        """TYPING_START for the channel's viewers; nothing is stored."""

        def write(connection: Connection) -> None:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.SEND_MESSAGES)
            self._journal.emit(
                connection,
                events.in_channel(
                    EventName.TYPING_START,
                    found.guild_id,
                    channel_id,
                    {
                        "user_id": str(user_id),
                        "timestamp": int(dt.datetime.now(dt.UTC).timestamp()),
                    },
                ),
            )

        await self._db.run(write)

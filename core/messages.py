"""Messages: send (or post for a webhook or an interaction), read, edit, delete. (Reactions:
core/reactions.py; pins: core/pins.py; search: core/search.py; typing: core/typing_indicator.py.)"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from core import events
from core.access import MESSAGE_CHANNELS, load_message_access
from core.domain import messages as rules
from core.domain.attachments import (
    Attachment,
    check_uploads,
    content_type,
)
from core.domain.components import check_components
from core.domain.messages import (
    POSTED_FLAGS,
    USER_FLAGS,
    AllowedMentions,
    Author,
    Change,
    Draft,
    Message,
    MessageFlag,
    MessageType,
    Origin,
    Place,
    check_flags,
    check_interactive,
)
from core.domain.permissions import Permission
from core.errors import (
    CannotMessageUser,
    FormCheck,
    InvalidForm,
    NotTheAuthor,
    TooOldToBulkDelete,
    UnknownChannel,
    UnknownMessage,
)
from core.events import EventName
from core.journal import Journal
from core.store import guilds as guild_store
from core.store import messages as store
from core.store.members import person
from core.store.objects import ObjectStoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.access import AccessCache
    from core.attachment_links import AttachmentLinks
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.store.objects import ObjectStore

_log = logging.getLogger(__name__)

# Content, embeds and components are the author's to change; flags, moderators' too.
_AUTHORED = frozenset({"content", "embeds", "components"})


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
        links: AttachmentLinks,
        max_upload_bytes: int,
    ) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._access = access
        self._journal = Journal(snowflakes)
        self._objects = objects
        self.link = links.link  # every view of a message signs its attachments' links
        self._max_upload_bytes = max_upload_bytes

    def _view(self, connection: Connection, message: Message, viewer_id: int) -> dict[str, object]:
        return store.views(connection, [message], viewer_id, self.link)[0].to_wire(nonce=True)

    async def send(self, user_id: int, channel_id: int, draft: Draft) -> dict[str, object]:
        """A user's message (a person's or a bot's), as they may send it in the channel."""

        def place(connection: Connection) -> Place:
            found = load_message_access(self._access, connection, channel_id, user_id, sender=True)
            if found.blocked:
                raise CannotMessageUser(str(channel_id))
            found.require(Permission.SEND_MESSAGES)
            if draft.tts:
                found.require(Permission.SEND_TTS_MESSAGES)
            if draft.uploads:
                found.require(Permission.ATTACH_FILES)
            sender = () if found.sender is None else (found.sender,)
            return Place(
                found.guild_id,
                found.roles,
                may_mention_everyone=bool(found.permissions & Permission.MENTION_EVERYONE),
                # Discord refuses a person's interactive components: only bots get clicks.
                # (Read only when asked: the send path is hot.)
                interactive=bool(draft.components) and any(person(r)[0].bot for r in sender),
                sender=sender,
            )

        return await self._create(Author(user_id), channel_id, draft, place, USER_FLAGS, Origin())

    async def post(
        self,
        author: Author,
        channel_id: int,
        draft: Draft,
        *,
        webhook_id: int | None = None,
        application_id: int | None = None,
        interaction_metadata: dict[str, object] | None = None,
        message_type: int | None = None,
        flags_allowed: int = POSTED_FLAGS,
        interactive: bool = True,
    ) -> dict[str, object]:
        """A message posted on someone's behalf by a caller that has authorized it (a webhook's
        token, an interaction's): no permission checks, @everyone and roles mention as written
        (allowed_mentions still narrows). `author`: a webhook (id, name, avatar) or a bot user.
        `message_type` None: a reply or a default message. `interactive` False allows only
        link buttons (a webhook no application owns). Returns the message's wire object."""

        origin = Origin(webhook_id, application_id, interaction_metadata, message_type)
        place = _posted_place(channel_id, interactive=interactive)
        return await self._create(author, channel_id, draft, place, flags_allowed, origin)

    def post_within(
        self,
        connection: Connection,
        author: Author,
        channel_id: int,
        draft: Draft,
        *,
        origin: Origin,
        flags_allowed: int = POSTED_FLAGS,
    ) -> dict[str, object]:
        """post() in the caller's transaction, to commit with its writes (an interaction's
        answer with its callback); not for files, which the object store must have first."""
        assert not draft.uploads
        place = _posted_place(channel_id, interactive=True)
        prepared = self._prepare(author, channel_id, draft, place, flags_allowed, origin)
        return prepared.write(connection)

    async def _create(
        self,
        author: Author,
        channel_id: int,
        draft: Draft,
        place: Callable[[Connection], Place],
        flags_allowed: int,
        origin: Origin,
    ) -> dict[str, object]:
        prepared = self._prepare(author, channel_id, draft, place, flags_allowed, origin)
        write, attachments, retried = prepared.write, prepared.attachments, prepared.retried
        # A claimed nonce and its message commit together, so that send is one transaction.
        run = self._db.run if draft.enforce_nonce else self._db.autocommit
        if not attachments:
            return await run(write)
        # Files are written only for a sender who may attach them, and removed again if the
        # message is not stored after all: a refused message leaves no file behind.
        await self._db.run(place)
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

    def _prepare(
        self,
        author: Author,
        channel_id: int,
        draft: Draft,
        place: Callable[[Connection], Place],
        flags_allowed: int,
        origin: Origin,
    ) -> _Prepared:
        """The draft checked, its ids taken, and the one transaction's work that writes it."""
        check = FormCheck()
        rules.check_message(check, draft.content, draft.embeds, needs_body=not draft.bodied)
        check_uploads(check, list(draft.uploads), self._max_upload_bytes)
        nonce = rules.check_nonce(check, draft.nonce)
        if draft.allowed_mentions is not None:
            rules.check_allowed_mentions(check, draft.allowed_mentions)
        check_flags(check, draft.flags, flags_allowed)
        components = [] if draft.components is None else check_components(check, draft.components)
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
        enforce_nonce = nonce if draft.enforce_nonce else None
        retried: list[int] = []  # the earlier message, when this send is a client's retry

        def write(connection: Connection) -> dict[str, object]:
            found = place(connection)
            check_interactive(components, allowed=found.interactive)
            if enforce_nonce is not None:
                # The first statement of the transaction: a simultaneous send with this nonce
                # waits here for ours to commit, then answers our message (issue #18).
                earlier = store.claim_nonce(
                    connection, channel_id, author.id, enforce_nonce, message_id, rules.NONCE_WINDOW
                )
                if earlier is not None:
                    retried.append(earlier)
                    return self._view(
                        connection, existing_message(connection, channel_id, earlier), author.id
                    )
            replied = None
            if draft.reply_to is not None:
                replied = store.message_in(connection, channel_id, draft.reply_to)
                if replied is None and draft.fail_if_not_exists:
                    raise InvalidForm.one(
                        "message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message"
                    )
            content = draft.content or ""
            mentions = _mentions(connection, found, content, draft.allowed_mentions)
            user_ids = list(mentions.user_ids)
            replied_user = draft.allowed_mentions is None or draft.allowed_mentions.replied_user
            if replied is not None and replied_user and replied.author_id not in user_ids:
                user_ids.append(replied.author_id)
            default_type = MessageType.REPLY if replied else MessageType.DEFAULT
            message = Message(
                id=message_id,
                channel_id=channel_id,
                guild_id=found.guild_id,
                author_id=author.id,
                type=default_type if origin.message_type is None else origin.message_type,
                content=content,
                flags=draft.flags,
                tts=draft.tts,
                mention_everyone=mentions.everyone,
                mention_ids=user_ids,
                mention_role_ids=list(mentions.role_ids),
                embeds=draft.embeds or [],
                nonce=nonce,
                referenced_message_id=replied.id if replied else None,
                pinned_at=None,
                edited_at=None,
                components=components,
                webhook_id=origin.webhook_id,
                application_id=origin.application_id,
                interaction_metadata=origin.interaction_metadata,
                author_name=author.name,
                author_avatar=author.avatar,
            )
            wire = store.views(
                connection, [message], author.id, self.link, new=attachments, people=found.sender
            )[0].to_wire(nonce=True)
            # The checks above read what has committed, as a transaction's statements would at
            # READ COMMITTED; the writes are one statement, atomic by itself.
            self._journal.emit(
                connection,
                events.in_channel(EventName.MESSAGE_CREATE, found.guild_id, channel_id, wire),
                along=[store.insert_message(message), *store.insert_attachments(attachments)],
            )
            return wire

        return _Prepared(write, attachments, retried)

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
            return [view.to_wire() for view in store.views(connection, page, user_id, self.link)]

        return await self._db.autocommit(read)

    async def get(self, user_id: int, channel_id: int, message_id: int) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.READ_MESSAGE_HISTORY)
            return store.views(
                connection,
                [existing_message(connection, channel_id, message_id)],
                user_id,
                self.link,
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
        components: list[dict[str, object]] | None = None,
    ) -> dict[str, object]:
        """A user's edit: content, embeds and components only of their own message; flags of
        others' with MANAGE_MESSAGES."""
        change = Change(given, content, embeds, flags, allowed_mentions, components).checked(
            USER_FLAGS
        )

        def write(connection: Connection) -> dict[str, object]:
            found = load_message_access(self._access, connection, channel_id, user_id, sender=True)
            message = existing_message(connection, channel_id, message_id, lock=True)
            if message.author_id != user_id:
                if given & _AUTHORED:
                    raise NotTheAuthor(str(message_id))
                if "flags" in given and flags is not None:
                    found.require(Permission.MANAGE_MESSAGES)
            place = Place(
                found.guild_id,
                found.roles,
                may_mention_everyone=bool(found.permissions & Permission.MENTION_EVERYONE),
                interactive="components" in given
                and found.sender is not None
                and person(found.sender)[0].bot,
            )
            return self._edit(connection, place, message, change, user_id)

        return await self._db.run(write)

    async def edit_posted(
        self,
        channel_id: int,
        message_id: int,
        *,
        webhook_id: int,
        given: frozenset[str],
        content: str | None = None,
        embeds: list[dict[str, object]] | None = None,
        flags: int | None = None,
        allowed_mentions: AllowedMentions | None = None,
        components: list[dict[str, object]] | None = None,
        flags_allowed: int = POSTED_FLAGS,
        interactive: bool = True,
    ) -> dict[str, object]:
        """An edit by the caller that posted the message (post's `webhook_id`), who has
        authorized it; UnknownMessage for any other message. `given`: the keys the body set."""
        change = Change(given, content, embeds, flags, allowed_mentions, components).checked(
            flags_allowed
        )

        def write(connection: Connection) -> dict[str, object]:
            message = _posted_by(connection, channel_id, message_id, webhook_id, lock=True)
            place = Place(
                message.guild_id, None, may_mention_everyone=True, interactive=interactive
            )
            return self._edit(connection, place, message, change, message.author_id)

        return await self._db.run(write)

    def _edit(
        self, connection: Connection, place: Place, message: Message, change: Change, viewer: int
    ) -> dict[str, object]:
        given = change.given
        changes: dict[str, object] = {}
        if "content" in given:
            text = change.content or ""
            mentions = _mentions(connection, place, text, change.allowed_mentions)
            changes |= {
                "content": text,
                "mention_everyone": mentions.everyone,
                "mention_ids": list(mentions.user_ids),
                "mention_role_ids": list(mentions.role_ids),
            }
        if "embeds" in given:
            changes["embeds"] = change.embeds or []
        if "components" in given:
            check_interactive(change.components or [], allowed=place.interactive)
            changes["components"] = change.components or []
        if given & {"content", "embeds"}:
            new_content = str(changes.get("content", message.content))
            if not new_content.strip() and not changes.get("embeds", message.embeds):
                raise InvalidForm.one("content", "MESSAGE_EMPTY", "Cannot send an empty message")
        if "flags" in given and change.flags is not None:
            # EPHEMERAL cannot be set or cleared by an edit: it decides who ever saw it.
            changes["flags"] = (change.flags & ~MessageFlag.EPHEMERAL) | (
                message.flags & MessageFlag.EPHEMERAL
            )
        if changes:
            store.edit_message(connection, message, changes, dt.datetime.now(dt.UTC))
        edited = existing_message(connection, message.channel_id, message.id)
        wire = store.views(connection, [edited], viewer, self.link)[0].to_wire()
        if changes:
            self._journal.emit(
                connection,
                events.in_channel(
                    EventName.MESSAGE_UPDATE, edited.guild_id, edited.channel_id, wire
                ),
            )
        return wire

    async def posted(self, channel_id: int, message_id: int, webhook_id: int) -> dict[str, object]:
        """A message the caller posted (post's `webhook_id`); UnknownMessage for any other."""

        def read(connection: Connection) -> dict[str, object]:
            message = _posted_by(connection, channel_id, message_id, webhook_id)
            return self._view(connection, message, message.author_id)

        return await self._db.autocommit(read)

    async def delete(self, user_id: int, channel_id: int, message_id: int) -> None:
        def write(connection: Connection) -> list[str]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            message = existing_message(connection, channel_id, message_id, lock=True)
            if message.author_id != user_id:
                found.require(Permission.MANAGE_MESSAGES)
            return self._delete(connection, message)

        await self._delete_files(await self._db.run(write))

    async def delete_posted(self, channel_id: int, message_id: int, webhook_id: int) -> None:
        """Deletes a message the caller posted (post's `webhook_id`); UnknownMessage for any
        other."""

        def write(connection: Connection) -> list[str]:
            message = _posted_by(connection, channel_id, message_id, webhook_id, lock=True)
            return self._delete(connection, message)

        await self._delete_files(await self._db.run(write))

    def _delete(self, connection: Connection, message: Message) -> list[str]:
        _, keys = store.delete_messages(connection, message.channel_id, [message.id])
        self._journal.emit(
            connection,
            events.in_channel(
                EventName.MESSAGE_DELETE,
                message.guild_id,
                message.channel_id,
                {"id": str(message.id)},
            ),
        )
        return keys

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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A checked draft: the work that writes it, its files, and the message it retried if any."""

    write: Callable[[Connection], dict[str, object]]
    attachments: list[Attachment]
    retried: list[int]


def _posted_place(channel_id: int, *, interactive: bool) -> Callable[[Connection], Place]:
    """Where a message posted on someone's behalf goes: any message channel, no checks."""

    def place(connection: Connection) -> Place:
        channel = guild_store.channel_by_id(connection, channel_id)
        if channel is None or channel.type not in MESSAGE_CHANNELS:
            raise UnknownChannel(str(channel_id))
        return Place(channel.guild_id, None, may_mention_everyone=True, interactive=interactive)

    return place


def _mentions(
    connection: Connection, place: Place, content: str, allowed: AllowedMentions | None
) -> rules.Mentions:
    """Who `content` mentions: known users, and the guild's roles anyone may mention (any
    role, with MENTION_EVERYONE)."""
    mentions = rules.parse_mentions(
        content, allowed, may_mention_everyone=place.may_mention_everyone
    )
    known = store.known_user_ids(connection, mentions.user_ids) if mentions.user_ids else set()
    role_ids: list[int] = []
    if mentions.role_ids and place.guild_id is not None:
        roles = {
            role.id: role
            for role in (
                place.roles
                if place.roles is not None
                else guild_store.roles_of(connection, place.guild_id)
            )
        }
        role_ids = [
            r
            for r in mentions.role_ids
            if r in roles
            and r != place.guild_id
            and (roles[r].mentionable or place.may_mention_everyone)
        ]
    return rules.Mentions(
        tuple(u for u in mentions.user_ids if u in known), tuple(role_ids), mentions.everyone
    )


def _posted_by(
    connection: Connection, channel_id: int, message_id: int, webhook_id: int, *, lock: bool = False
) -> Message:
    message = existing_message(connection, channel_id, message_id, lock=lock)
    if message.webhook_id != webhook_id:
        raise UnknownMessage(str(message_id))
    return message

"""Incoming webhooks: manage them (MANAGE_WEBHOOKS), and post, read, edit and delete their
messages with nothing but the webhook's token. (Discord's "Webhook" resource.)"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import events
from core.access import MESSAGE_CHANNELS, load_access, load_channel_access
from core.domain.audit import AuditAction, changes
from core.domain.messages import POSTED_FLAGS, Author
from core.domain.permissions import Permission
from core.domain.users import parse_image
from core.domain.webhooks import (
    INCOMING,
    MAX_PER_CHANNEL,
    SALT_BYTES,
    TOKEN_MAX,
    Webhook,
    check_name,
    image_hash,
    token_for,
    token_matches,
)
from core.errors import (
    FormCheck,
    InvalidForm,
    InvalidWebhookToken,
    MaxWebhooks,
    MissingAccess,
    NotATextChannel,
    UnknownChannel,
    UnknownWebhook,
)
from core.journal import Journal
from core.store import accounts as account_store
from core.store import webhooks as store

if TYPE_CHECKING:
    from core.access import AccessCache, ChannelAccess
    from core.domain.messages import AllowedMentions, Draft
    from core.domain.tokens import JwtKeys
    from core.messages import Messages
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database

AVATAR_URL_MAX = 2048
_MANAGING = Permission.MANAGE_WEBHOOKS | Permission.VIEW_CHANNEL


@dataclass(frozen=True, slots=True)
class WebhookChanges:
    """An edit of a webhook; `given`: the keys the body set (avatar None removes it)."""

    given: frozenset[str]
    name: str | None = None
    avatar: str | None = None  # a data URI
    channel_id: int | None = None

    def columns(self, check: FormCheck, *, by_token: bool = False) -> dict[str, object]:
        """The columns to write. `by_token`: the token's holder may not move the webhook,
        which takes MANAGE_WEBHOOKS in both channels."""
        found: dict[str, object] = {}
        if by_token and "channel_id" in self.given and self.channel_id is not None:
            check.fail(
                "channel_id", "WEBHOOK_CHANNEL_INVALID", "Moving a webhook needs authentication."
            )
        if "name" in self.given:
            found["name"] = check_name(check, self.name or "")
        if "avatar" in self.given:
            image = None if self.avatar is None else parse_image(check, "avatar", self.avatar)
            found["avatar"] = None if image is None else image_hash(image.data)
        if "channel_id" in self.given and self.channel_id is not None:
            found["channel_id"] = self.channel_id
        return found


class Webhooks:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        keys: JwtKeys,
        messages: Messages,
        public_url: str,
    ) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._access = access
        self._keys = keys
        self._messages = messages
        self._public_url = public_url
        self._journal = Journal(snowflakes)

    def _wire(
        self, connection: Connection, webhook: Webhook, *, with_user: bool
    ) -> dict[str, object]:
        secret = self._keys.get(webhook.token_kid)
        token = None if secret is None else token_for(secret, webhook.id, webhook.token_salt)
        creator = (
            account_store.user_by_id(connection, webhook.user_id)
            if with_user and webhook.user_id is not None
            else None
        )
        return webhook.to_wire(
            token=token,
            user=None if creator is None else creator.to_wire(),
            public_url=self._public_url,
        )

    def _managed_channel(
        self, connection: Connection, user_id: int, channel_id: int, *, lock: bool = False
    ) -> ChannelAccess:
        found = load_channel_access(self._access, connection, channel_id, user_id, lock=lock)
        found.access.require(Permission.MANAGE_WEBHOOKS, have=found.permissions)
        if found.channel.type not in MESSAGE_CHANNELS:
            raise NotATextChannel(str(channel_id))
        return found

    def _managed(
        self, connection: Connection, user_id: int, webhook_id: int, *, lock: bool = False
    ) -> Webhook:
        """The webhook, for a caller with MANAGE_WEBHOOKS in its channel. Outside its guild,
        or unable to see its channel, it is unknown, like one that does not exist."""
        webhook = store.webhook_by_id(connection, webhook_id, lock=lock)
        if webhook is None:
            raise UnknownWebhook(str(webhook_id))
        try:
            self._managed_channel(connection, user_id, webhook.channel_id, lock=lock)
        except (UnknownChannel, MissingAccess):
            raise UnknownWebhook(str(webhook_id)) from None
        return webhook

    async def create(
        self,
        user_id: int,
        channel_id: int,
        *,
        name: str,
        avatar: str | None,
        by_bot: bool,
        reason: str | None,
    ) -> dict[str, object]:
        """A new incoming webhook; a bot's belongs to its application (bot id = application
        id), so its messages may carry interactive components."""
        check = FormCheck()
        columns = WebhookChanges(frozenset({"name", "avatar"}), name, avatar).columns(check)
        check.done()

        def write(connection: Connection) -> dict[str, object]:
            found = self._managed_channel(connection, user_id, channel_id, lock=True)
            if store.count_in_channel(connection, channel_id) >= MAX_PER_CHANNEL:
                raise MaxWebhooks(str(channel_id))
            webhook = Webhook(
                id=self._snowflakes.next_id(),
                type=INCOMING,
                guild_id=found.access.guild.id,
                channel_id=channel_id,
                user_id=user_id,
                application_id=user_id if by_bot else None,
                name=str(columns["name"]),
                avatar=None if columns["avatar"] is None else str(columns["avatar"]),
                token_salt=secrets.token_bytes(SALT_BYTES),
                token_kid=self._keys.signing_kid,
            )
            store.insert_webhook(connection, webhook)
            self._record(
                connection, webhook, user_id, AuditAction.WEBHOOK_CREATE, None, webhook, reason
            )
            return self._wire(connection, webhook, with_user=True)

        return await self._db.run(write)

    def _record(
        self,
        connection: Connection,
        webhook: Webhook,
        user_id: int | None,
        action: AuditAction,
        before: Webhook | None,
        after: Webhook | None,
        reason: str | None,
    ) -> None:
        """The audit entry (for an authenticated caller; a token names nobody) and
        WEBHOOKS_UPDATE for each channel whose webhooks changed."""
        if user_id is not None:
            self._journal.audit(
                connection,
                guild_id=webhook.guild_id,
                user_id=user_id,
                action=action,
                target_id=webhook.id,
                changes=changes(
                    None if before is None else before.audited(),
                    None if after is None else after.audited(),
                ),
                reason=reason,
            )
        channel_ids = {w.channel_id for w in (before, after) if w is not None}
        self._journal.emit(
            connection,
            *(events.webhooks_update(webhook.guild_id, c) for c in sorted(channel_ids)),
        )

    async def of_channel(self, user_id: int, channel_id: int) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            self._managed_channel(connection, user_id, channel_id)
            found = store.webhooks_where(connection, channel_id=channel_id)
            return [self._wire(connection, w, with_user=True) for w in found]

        return await self._db.autocommit(read)

    async def of_guild(self, user_id: int, guild_id: int) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            access = load_access(self._access, connection, guild_id, user_id)
            access.require(Permission.MANAGE_WEBHOOKS)
            # Only the channels where the caller could manage each one by id (`_managed`):
            # a channel's overwrites may hide it, or take MANAGE_WEBHOOKS away, there.
            found = store.webhooks_where(connection, guild_id=guild_id)
            return [
                self._wire(connection, w, with_user=True)
                for w in found
                if access.in_channel(w.channel_id) & _MANAGING == _MANAGING
            ]

        return await self._db.autocommit(read)

    async def get(self, user_id: int, webhook_id: int) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            return self._wire(
                connection, self._managed(connection, user_id, webhook_id), with_user=True
            )

        return await self._db.autocommit(read)

    async def edit(
        self, user_id: int | None, webhook_id: int, edit: WebhookChanges, reason: str | None
    ) -> dict[str, object]:
        """Renames, re-avatars or moves the webhook. `user_id` None: by its token, which may
        not move it."""
        check = FormCheck()
        columns = edit.columns(check, by_token=user_id is None)
        check.done()

        def write(connection: Connection) -> dict[str, object]:
            if user_id is None:
                webhook = store.webhook_by_id(connection, webhook_id, lock=True)
                if webhook is None:
                    raise UnknownWebhook(str(webhook_id))
            else:
                webhook = self._managed(connection, user_id, webhook_id, lock=True)
            target = columns.get("channel_id")
            if user_id is not None and target is not None and target != webhook.channel_id:
                moved_to = self._managed_channel(connection, user_id, int(str(target)))
                if moved_to.access.guild.id != webhook.guild_id:
                    raise InvalidForm.one(
                        "channel_id", "WEBHOOK_CHANNEL_INVALID", "Must be a channel of its guild."
                    )
                if store.count_in_channel(connection, int(str(target))) >= MAX_PER_CHANNEL:
                    raise MaxWebhooks(str(target))
            if not columns:
                return self._wire(connection, webhook, with_user=user_id is not None)
            edited = store.update_webhook(connection, webhook.id, columns)
            self._record(
                connection, edited, user_id, AuditAction.WEBHOOK_UPDATE, webhook, edited, reason
            )
            return self._wire(connection, edited, with_user=user_id is not None)

        return await self._db.run(write)

    async def delete(self, user_id: int | None, webhook_id: int, reason: str | None) -> None:
        """Deletes the webhook (its messages stay, as Discord's do). `user_id` None: by its
        token."""

        def write(connection: Connection) -> None:
            if user_id is None:
                webhook = store.webhook_by_id(connection, webhook_id, lock=True)
                if webhook is None:
                    raise UnknownWebhook(str(webhook_id))
            else:
                webhook = self._managed(connection, user_id, webhook_id, lock=True)
            store.delete_webhook(connection, webhook.id)
            self._record(
                connection, webhook, user_id, AuditAction.WEBHOOK_DELETE, webhook, None, reason
            )

        await self._db.run(write)

    # Through the token: the token is the whole credential.

    async def credential(self, webhook_id: int, token: str) -> Webhook:
        """The webhook whose token `token` is: UnknownWebhook if there is no such webhook,
        InvalidWebhookToken (50027) for any token but its own."""
        webhook = await self._db.autocommit(lambda c: store.webhook_by_id(c, webhook_id))
        if webhook is None:
            raise UnknownWebhook(str(webhook_id))
        secret = self._keys.get(webhook.token_kid)
        if (
            secret is None
            or len(token) > TOKEN_MAX
            or not token_matches(secret, webhook.id, webhook.token_salt, token)
        ):
            raise InvalidWebhookToken(str(webhook_id))
        return webhook

    async def show(self, webhook: Webhook) -> dict[str, object]:
        """The webhook as its token's holder sees it: without its creator."""
        return await self._db.autocommit(lambda c: self._wire(c, webhook, with_user=False))

    async def execute(
        self, webhook: Webhook, draft: Draft, *, username: str | None, avatar_url: str | None
    ) -> dict[str, object]:
        """Posts the webhook's message, shown with `username` when given. An `avatar_url`
        is checked but shows as no avatar: Discord shows the hash of the image it fetched from
        the URL, and clients build a CDN address from that hash, but this server fetches no
        images, so showing (or keeping) the URL would only make clients build broken ones."""
        check = FormCheck()
        name = webhook.name if username is None else check_name(check, username, "username")
        if avatar_url is not None and (
            len(avatar_url) > AVATAR_URL_MAX or not avatar_url.startswith(("https://", "http://"))
        ):
            check.fail("avatar_url", "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        check.done()
        return await self._messages.post(
            Author(webhook.id, name=name, avatar=None if avatar_url else webhook.avatar),
            webhook.channel_id,
            draft,
            webhook_id=webhook.id,
            application_id=webhook.application_id,
            flags_allowed=POSTED_FLAGS,
            interactive=webhook.application_id is not None,
        )

    async def message(self, webhook: Webhook, message_id: int) -> dict[str, object]:
        return await self._messages.posted(webhook.channel_id, message_id, webhook.id)

    async def edit_message(
        self,
        webhook: Webhook,
        message_id: int,
        *,
        given: frozenset[str],
        content: str | None,
        embeds: list[dict[str, object]] | None,
        flags: int | None,
        allowed_mentions: AllowedMentions | None,
        components: list[dict[str, object]] | None,
    ) -> dict[str, object]:
        return await self._messages.edit_posted(
            webhook.channel_id,
            message_id,
            webhook_id=webhook.id,
            given=given,
            content=content,
            embeds=embeds,
            flags=flags,
            allowed_mentions=allowed_mentions,
            components=components,
            interactive=webhook.application_id is not None,
        )

    async def delete_message(self, webhook: Webhook, message_id: int) -> None:
        await self._messages.delete_posted(webhook.channel_id, message_id, webhook.id)
